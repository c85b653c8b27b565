"""Request shapes (validation of types only; the rules live in the services) and response shapes for the schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.money import money_str
from wallets.errors import InvalidAmount
from wallets.money import amount_parse

_AMOUNT_SCHEMA = {
    "oneOf": [{"type": "string", "example": "250.50"}, {"type": "number", "example": 250.5}],
    "description": "Positive, at most two decimals. A JSON number is read as a decimal, never as a float.",
}


@extend_schema_field(_AMOUNT_SCHEMA)
class AmountField(serializers.Field):  # type: ignore[type-arg]
    """An amount through ``wallets.money.amount_parse``; a refusal keeps the code ``invalid_amount``."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return amount_parse(data)
        except InvalidAmount as refusal:
            raise serializers.ValidationError(refusal.message, code="invalid_amount") from None

    def to_representation(self, value: Decimal) -> str:
        return money_str(value)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}], "nullable": True})
class UserIdField(serializers.Field):  # type: ignore[type-arg]
    """An integer or a string of digits."""

    def to_internal_value(self, data: Any) -> int:
        text = data.strip() if isinstance(data, str) else data
        if isinstance(data, int) and not isinstance(data, bool):
            text = str(data)
        if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 19:
            raise serializers.ValidationError('A user id is a whole number, such as 42 or "42".')
        return int(text)

    def to_representation(self, value: int) -> int:
        return value


class RegisterRequest(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
    mobile_number = serializers.CharField(max_length=32, help_text="E.164 (+919876543210) or a national number.")


class RegisteredResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    mobile_number = serializers.CharField(help_text="E.164")


class TokenRequest(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)


class TokenResponse(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField()


class WalletResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    mobile_number = serializers.CharField()
    balance = serializers.CharField(help_text='Two decimals, e.g. "1000.00"')
    currency = serializers.CharField()
    version = serializers.IntegerField(help_text="Counts this wallet's balance-changing ledger entries.")
    daily_limit = serializers.CharField()
    spent_today = serializers.CharField()
    remaining_today = serializers.CharField()


class TopUpRequest(serializers.Serializer):  # type: ignore[type-arg]
    amount = AmountField()


class TransferRequest(serializers.Serializer):  # type: ignore[type-arg]
    to_user_id = UserIdField(required=False, allow_null=True)
    to_mobile = serializers.CharField(required=False, allow_null=True, max_length=32)
    amount = AmountField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [name for name in ("to_user_id", "to_mobile") if attrs.get(name) is not None]
        if len(named) != 1:
            raise serializers.ValidationError("Name the recipient with exactly one of to_user_id and to_mobile.")
        return attrs


class PartyResponse(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    username = serializers.CharField()


class TransactionResponse(serializers.Serializer):  # type: ignore[type-arg]
    """``wallets.payloads.TransactionPayload``: the same object the websocket pushes."""

    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["ADD_MONEY", "TRANSFER"])
    status = serializers.ChoiceField(choices=["SUCCESS", "FAILED"])
    amount = serializers.CharField(help_text="Two decimals")
    currency = serializers.CharField()
    sender = PartyResponse(allow_null=True)
    receiver = PartyResponse()
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(help_text="ISO 8601 with offset")


class TransactionPageResponse(serializers.Serializer):  # type: ignore[type-arg]
    results = TransactionResponse(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Opaque; null on the last page.")


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
