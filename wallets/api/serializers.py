"""Request shapes (validation of types only; the rules live in the services) and response shapes for the schema.

Each request field's schema comes from ``wallets.api.openapi``: exactly what the server accepts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.password_validation import MinimumLengthValidator, get_default_password_validators
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.money import money_str
from wallets.accounts import pins
from wallets.api import openapi
from wallets.errors import InvalidAmount, InvalidNote
from wallets.money import amount_parse
from wallets.notes import note_clean
from wallets.phone import MOBILE_MAX_LENGTH


@extend_schema_field(openapi.AMOUNT)
class AmountField(serializers.Field):  # type: ignore[type-arg]
    """An amount through ``wallets.money.amount_parse``; a refusal keeps the code ``invalid_amount``."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return amount_parse(data)
        except InvalidAmount as refusal:
            raise serializers.ValidationError(refusal.message, code="invalid_amount") from None

    def to_representation(self, value: Decimal) -> str:
        return money_str(value)


@extend_schema_field(openapi.USER_ID)
class UserIdField(serializers.Field):  # type: ignore[type-arg]
    """An integer or a string of digits."""

    def to_internal_value(self, data: Any) -> int:
        text = data.strip() if isinstance(data, str) else data
        if isinstance(data, int) and not isinstance(data, bool):
            text = str(data)
        if (
            not isinstance(text, str)
            or not (text.isascii() and text.isdigit())
            or len(text) > openapi.USER_ID_MAX_DIGITS
        ):
            raise serializers.ValidationError('A user id is a whole number, such as 42 or "42".')
        return int(text)

    def to_representation(self, value: int) -> int:
        return value


class _ExactText(serializers.CharField):
    """DRF's text field (trimmed, not blank, no NUL) whose schema is ``exact_schema``.

    Text is a JSON string: DRF would also take a number and turn it into text, which the schema
    does not say (and a schema-invalid body must be refused). drf-spectacular would add
    minLength/maxLength from the field's own checks, which count the characters after trimming;
    the schema counts them in what the client sends, so the exact schema replaces the derived
    one (``_exact_properties``).
    """

    exact_schema: dict[str, Any] = {}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class MobileField(_ExactText):
    exact_schema = openapi.MOBILE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MOBILE_MAX_LENGTH, **kwargs)


class UsernameField(_ExactText):
    exact_schema = openapi.USERNAME

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=150, **kwargs)


class SignInUsernameField(_ExactText):
    exact_schema = openapi.SIGN_IN_USERNAME

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=150, **kwargs)


def _password_min_length() -> int:
    lengths = [v.min_length for v in get_default_password_validators() if isinstance(v, MinimumLengthValidator)]
    return max(lengths, default=1)


class PasswordField(_ExactText):
    exact_schema = openapi.password(min_length=1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=1024, trim_whitespace=False, write_only=True, **kwargs)


class NewPasswordField(PasswordField):
    exact_schema = openapi.password(min_length=_password_min_length())


def _exact_properties(auto_schema: Any, serializer: serializers.Serializer, direction: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    schema: dict[str, Any] = auto_schema._map_basic_serializer(serializer, direction)
    for name, field in serializer.fields.items():
        if isinstance(field, _ExactText) and name in schema["properties"]:
            derived = schema["properties"][name]
            meta = {key: derived[key] for key in ("nullable", "writeOnly", "description") if key in derived}
            schema["properties"][name] = {**field.exact_schema, **meta}
    return schema


@extend_schema_field(openapi.MONEY_OUT)
class MoneyOutField(serializers.CharField):
    """An amount in a response: a string with exactly two decimals."""


class NameField(_ExactText):
    exact_schema = openapi.NAME

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=150, required=False, allow_blank=True, **kwargs)


class NoteField(_ExactText):
    """A note through ``wallets.notes.note_clean`` (the one rule); optional, null or blank for none."""

    exact_schema = openapi.NOTE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, allow_blank=True, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        try:
            return note_clean(super().to_internal_value(data))
        except InvalidNote as refusal:
            raise serializers.ValidationError(refusal.message) from None


class CodeField(_ExactText):
    exact_schema = openapi.CODE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=6, min_length=6, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = super().to_internal_value(data)
        if not (code.isascii() and code.isdigit()):
            raise serializers.ValidationError("A code is the six digits of the message.")
        return code


class PinField(_ExactText):
    """A PIN's form only (4 to 6 digits); whether it is right, or trivial, is the service's to say.

    Blank and null read as absent, which the views answer ``pin_required``.
    """

    exact_schema = openapi.PIN

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        super().__init__(write_only=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        pin = super().to_internal_value(data)
        if pin and not (pin.isascii() and pin.isdigit() and pins.PIN_MIN_DIGITS <= len(pin) <= pins.PIN_MAX_DIGITS):
            raise serializers.ValidationError(pins.FORM_MESSAGE)
        return pin


class NewPinField(PinField):
    exact_schema = openapi.NEW_PIN


class RegisterRequest(serializers.Serializer):  # type: ignore[type-arg]
    username = UsernameField()
    password = NewPasswordField(
        help_text="Django's password validators apply: not too common, not all digits, not like the username."
    )
    mobile_number = MobileField()
    first_name = NameField()
    last_name = NameField()


class RegisteredResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    mobile_number = serializers.CharField(help_text="E.164")
    mobile_verified = serializers.BooleanField(
        help_text="false: a code was sent to the number; POST it to /api/v1/auth/mobile/verify/"
    )


class MobileCodeRequest(serializers.Serializer):  # type: ignore[type-arg]
    mobile_number = MobileField(
        required=False, help_text="Claim this number instead (while unverified), and send the code to it."
    )


class MobileCodeResponse(serializers.Serializer):  # type: ignore[type-arg]
    mobile_number = serializers.CharField(help_text="E.164: where the code went")
    mobile_verified = serializers.BooleanField()


class MobileVerifyRequest(serializers.Serializer):  # type: ignore[type-arg]
    code = CodeField()


class MobileVerifiedResponse(serializers.Serializer):  # type: ignore[type-arg]
    mobile_verified = serializers.BooleanField()


class TokenRequest(serializers.Serializer):  # type: ignore[type-arg]
    username = SignInUsernameField()
    password = PasswordField()


class TokenResponse(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField()


class PasswordChangeRequest(serializers.Serializer):  # type: ignore[type-arg]
    current_password = PasswordField()
    new_password = NewPasswordField(
        help_text="Django's password validators apply: not too common, not all digits, not like the username."
    )


class PasswordResetRequest(serializers.Serializer):  # type: ignore[type-arg]
    mobile_number = MobileField(help_text="The account's verified number: the code goes there, if it has one.")


class PasswordResetAcceptedResponse(serializers.Serializer):  # type: ignore[type-arg]
    message = serializers.CharField(help_text="The same for every number: it never says whether one has an account.")


class PasswordResetConfirmRequest(serializers.Serializer):  # type: ignore[type-arg]
    mobile_number = MobileField()
    code = CodeField()
    new_password = NewPasswordField(
        help_text="Django's password validators apply: not too common, not all digits, not like the username."
    )


class WalletResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    mobile_number = serializers.CharField(
        allow_null=True, help_text="null when another account verified the number first: claim another"
    )
    mobile_verified = serializers.BooleanField(help_text="false: this wallet moves no money until it is verified")
    pin_set = serializers.BooleanField(help_text="false: set a payment PIN (PUT /api/v1/auth/pin/) before paying")
    balance = MoneyOutField()
    currency = serializers.CharField()
    version = serializers.IntegerField(help_text="Counts this wallet's balance-changing ledger entries.")
    daily_limit = MoneyOutField()
    spent_today = MoneyOutField()
    remaining_today = MoneyOutField()


class TopUpRequest(serializers.Serializer):  # type: ignore[type-arg]
    amount = AmountField()


class TransferRequest(serializers.Serializer):  # type: ignore[type-arg]
    to_user_id = UserIdField(required=False, allow_null=True)
    to_mobile = MobileField(required=False, allow_null=True)
    amount = AmountField()
    # Required by the schema; absent, null or blank, the view answers 400 pin_required.
    pin = PinField(required=False, allow_null=True, help_text="Your payment PIN: every transfer needs it.")
    note = NoteField(help_text="What the payment is for, shown to both parties and kept in the ledger.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [name for name in ("to_user_id", "to_mobile") if attrs.get(name) is not None]
        if len(named) != 1:
            raise serializers.ValidationError("Name the recipient with exactly one of to_user_id and to_mobile.")
        return attrs


class RefundRequest(serializers.Serializer):  # type: ignore[type-arg]
    amount = AmountField(required=False, help_text="How much to give back; absent: all that is left of the payment.")
    # Required by the schema; absent, null or blank, the view answers 400 pin_required.
    pin = PinField(required=False, allow_null=True, help_text="Your payment PIN: every refund needs it.")
    note = NoteField(help_text="Why, shown to both parties and kept in the ledger.")


class PinSetRequest(serializers.Serializer):  # type: ignore[type-arg]
    pin = NewPinField(allow_blank=False, help_text="The new PIN.")
    current_pin = PinField(
        required=False, allow_null=True, allow_blank=False, help_text="To change a PIN: the one you have now."
    )
    code = CodeField(
        required=False, allow_null=True, help_text="Or, to change it: the code sent by POST /api/v1/auth/pin/code/."
    )


class PinSetResponse(serializers.Serializer):  # type: ignore[type-arg]
    pin_set = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="false: the account's first PIN")


class PinCodeResponse(serializers.Serializer):  # type: ignore[type-arg]
    mobile_number = serializers.CharField(help_text="E.164: the verified number the code went to")


class NameRequest(serializers.Serializer):  # type: ignore[type-arg]
    first_name = NameField()
    last_name = NameField()


class NameResponse(serializers.Serializer):  # type: ignore[type-arg]
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    display_name = serializers.CharField(help_text="As payers see it: masked (the username, masked, without a name)")


class UserIdQueryField(_ExactText):
    exact_schema = openapi.USER_ID_QUERY


class RecipientQuery(serializers.Serializer):  # type: ignore[type-arg]
    mobile = MobileField(required=False)
    user_id = UserIdQueryField(required=False)


class RecipientResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    display_name = serializers.CharField(help_text='Masked as UPI apps mask it: "Bo*** K****"')


class PartyResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()


class TransactionResponse(serializers.Serializer):  # type: ignore[type-arg]
    """``wallets.payloads.TransactionPayload``: the same object the websocket pushes."""

    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["ADD_MONEY", "TRANSFER", "REFUND", "REVERSAL"])
    status = serializers.ChoiceField(choices=["SUCCESS", "FAILED"])
    amount = MoneyOutField()
    currency = serializers.CharField()
    sender = PartyResponse(allow_null=True, help_text="null for ADD_MONEY")
    receiver = PartyResponse()
    failure_reason = serializers.ChoiceField(
        choices=["insufficient_funds", "daily_limit_exceeded"], allow_null=True, help_text="Set when FAILED"
    )
    created_at = serializers.DateTimeField(help_text="ISO 8601 with offset")
    note = serializers.CharField(allow_null=True, help_text="What the payer (or refunder) wrote; null when none")
    corrects = serializers.IntegerField(
        allow_null=True, help_text="The entry a REFUND or REVERSAL corrects; null for other types"
    )
    request = serializers.IntegerField(allow_null=True, help_text="The money request this transfer paid, or null")


class TransactionPageResponse(serializers.Serializer):  # type: ignore[type-arg]
    results = TransactionResponse(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Opaque; null on the last page.")
    next = serializers.CharField(
        allow_null=True,
        help_text="The next page's path and query string: the same filters and limit, and next_cursor; "
        "null on the last page.",
    )


class ErrorDetailResponse(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    message = serializers.CharField()
    # Shadows Serializer.fields only in the class body: DRF's metaclass moves declared fields away.
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]
    transaction_id = serializers.IntegerField(
        required=False, help_text="The FAILED ledger entry of a recorded refusal."
    )


class ErrorResponse(serializers.Serializer):  # type: ignore[type-arg]
    error = ErrorDetailResponse()


class RegisterRequestSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class: type[serializers.Serializer] = RegisterRequest  # type: ignore[type-arg]

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return _exact_properties(auto_schema, self.target, direction)


class TokenRequestSchema(RegisterRequestSchema):
    target_class = TokenRequest


class TransferRequestSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """The recipient is exactly one of ``to_user_id`` and ``to_mobile``; a null one counts as absent."""

    target_class = TransferRequest

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = _exact_properties(auto_schema, self.target, direction)
        # The PIN is required and never null (the server answers both with pin_required).
        schema["properties"]["pin"].pop("nullable", None)
        schema["required"] = sorted({*schema.get("required", []), "pin"})
        # Each branch names one recipient, not null: the other may be absent or null, never both given.
        schema["oneOf"] = [
            {"required": [name], "properties": {name: field_schema}}
            for name, field_schema in (("to_user_id", openapi.USER_ID), ("to_mobile", openapi.MOBILE))
        ]
        return schema


class RefundRequestSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = RefundRequest

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = _exact_properties(auto_schema, self.target, direction)
        # The PIN is required and never null (the server answers both with pin_required).
        schema["properties"]["pin"].pop("nullable", None)
        schema["required"] = sorted({*schema.get("required", []), "pin"})
        return schema


class MobileCodeRequestSchema(RegisterRequestSchema):
    target_class = MobileCodeRequest


class MobileVerifyRequestSchema(RegisterRequestSchema):
    target_class = MobileVerifyRequest


class PinSetRequestSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """A change names one proof: not both ``current_pin`` and ``code`` (a null one counts as absent)."""

    target_class = PinSetRequest

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = _exact_properties(auto_schema, self.target, direction)
        schema["not"] = {
            "required": ["current_pin", "code"],
            "properties": {"current_pin": {"type": "string"}, "code": {"type": "string"}},
        }
        return schema


class NameRequestSchema(RegisterRequestSchema):
    target_class = NameRequest


class PasswordChangeRequestSchema(RegisterRequestSchema):
    target_class = PasswordChangeRequest


class PasswordResetRequestSchema(RegisterRequestSchema):
    target_class = PasswordResetRequest


class PasswordResetConfirmRequestSchema(RegisterRequestSchema):
    target_class = PasswordResetConfirmRequest
