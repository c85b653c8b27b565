"""Form shapes for the pages. The rules themselves live in the services.

The money forms check each field with the services' own parsers (amount,
note, user id, mobile number) so that a form with two bad fields shows both
errors at once; the services check them again, and decide everything else.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms

from wallets.errors import PinRequired, WalletError
from wallets.formtokens import form_token_new
from wallets.money import amount_parse
from wallets.notes import note_clean
from wallets.phone import mobile_normalize
from wallets.recipients import user_id_parse


def _checked(form: forms.Form, name: str, parse: Callable[[str], object]) -> str:
    """The field's text as typed, once the service's ``parse`` accepts it; its refusal as this field's error."""
    value: str = form.cleaned_data.get(name) or ""
    try:
        parse(value)
    except WalletError as error:
        raise forms.ValidationError(error.message) from None
    return value


class AmountField(forms.CharField):
    """Text, not a float or Decimal widget: the service's parser decides."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            max_length=32,
            widget=forms.TextInput(
                attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00", "spellcheck": "false"}
            ),
            **kwargs,  # type: ignore[arg-type]
        )


class NoteField(forms.CharField):
    """What the payment is for: optional text; ``wallets.notes.note_clean`` judges it (in the service)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            required=False,
            strip=False,
            label="Note (optional)",
            widget=forms.TextInput(attrs={"maxlength": "80", "autocomplete": "off", "placeholder": "What is it for?"}),
            **kwargs,  # type: ignore[arg-type]
        )


class PinField(forms.CharField):
    """A PIN typed on a page: masked, never filled in again, no autocomplete; the service judges it.

    Not required here: a missing PIN is the service's ``pin_required``, with its message.
    """

    def __init__(self, *, label: str = "PIN", autocomplete: str = "off", **kwargs: object) -> None:
        kwargs.setdefault("required", False)
        super().__init__(
            max_length=32,
            label=label,
            strip=True,
            # render_value=False (the default): a refused form never shows the PIN typed into it.
            widget=forms.PasswordInput(
                attrs={"autocomplete": autocomplete, "inputmode": "numeric", "pattern": "[0-9]*"}
            ),
            **kwargs,  # type: ignore[arg-type]
        )


class RegistrationForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    first_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    mobile_number = forms.CharField(
        max_length=32,
        label="Mobile number",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "98765 43210"}),
    )
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_confirm = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        return data


class OneTimeForm(forms.Form):
    """A money form: it carries a fresh one-time token each time it is rendered (wallets/formtokens.py)."""

    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["form_token"].initial = form_token_new()

    def fresh(self) -> OneTimeForm:
        """This form, with what was typed and its errors, ready to be sent again under a new token."""
        if self.is_bound:
            data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
            data[self.add_prefix("form_token")] = form_token_new()
            self.data = data
        return self

    # Never part of the fingerprint: the token is the key itself, and a hash of a body whose only
    # unknown is a 4-digit PIN gives the PIN back in 10,000 tries.
    UNFINGERPRINTED = frozenset({"form_token", "pin"})

    def payload(self) -> dict[str, str]:
        """What was submitted, as the token's record fingerprints it (the token and the PIN aside)."""
        return {name: str(value) for name, value in self.cleaned_data.items() if name not in self.UNFINGERPRINTED}


class VerifyMobileForm(forms.Form):
    code = forms.CharField(
        max_length=6,
        min_length=6,
        label="Code",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"}),
    )


class MobileNumberForm(forms.Form):
    mobile_number = forms.CharField(
        max_length=32,
        label="Mobile number",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "98765 43210"}),
    )


class AddMoneyForm(OneTimeForm):
    amount = AmountField()

    def clean_amount(self) -> str:
        return _checked(self, "amount", amount_parse)


class _PaymentChecks(forms.Form):
    """Every field's error at once; an empty PIN is named too when something else is wrong
    (alone, it is the service's to answer: "no PIN yet" differs from "type your PIN")."""

    def clean_amount(self) -> str:
        return _checked(self, "amount", amount_parse)

    def clean_note(self) -> str:
        return _checked(self, "note", note_clean)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if self.errors and "pin" in self.fields and not data.get("pin"):
            self.add_error("pin", PinRequired().message)
        return data


class TransferForm(_PaymentChecks, OneTimeForm):
    to_user_id = forms.CharField(
        max_length=20, label="Recipient user id", widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    amount = AmountField()
    note = NoteField()
    pin = PinField()

    def clean_to_user_id(self) -> str:
        return _checked(self, "to_user_id", user_id_parse)


class PayMobileDetailsForm(_PaymentChecks):
    """Pay-by-mobile, first step: whom and how much. The next step shows whose number it is and asks for the PIN."""

    mobile_number = forms.CharField(
        max_length=32,
        label="Recipient mobile number",
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "98765 43210"}),
    )
    amount = AmountField()
    note = NoteField()

    def clean_mobile_number(self) -> str:
        return _checked(self, "mobile_number", mobile_normalize)


class PayMobileForm(OneTimeForm):
    """Pay-by-mobile, the confirmation: the number and amount as confirmed, and the PIN."""

    mobile_number = forms.CharField(max_length=32, widget=forms.HiddenInput)
    amount = forms.CharField(max_length=32, widget=forms.HiddenInput)
    note = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    pin = PinField()


class PinSetForm(forms.Form):
    """Set the first PIN, or change it with the current PIN or a code sent by SMS."""

    current_pin = PinField(label="Current PIN")
    code = forms.CharField(
        max_length=6,
        required=False,
        label="Or the code we sent to your number",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"}),
    )
    pin = PinField(label="New PIN (4 to 6 digits)", autocomplete="new-password", required=True)
    pin_confirm = PinField(label="New PIN again", autocomplete="new-password", required=True)

    def __init__(self, *args: object, has_pin: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not has_pin:  # the first PIN needs no proof
            del self.fields["current_pin"], self.fields["code"]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("pin") and data.get("pin") != data.get("pin_confirm"):
            self.add_error("pin_confirm", "The two PINs differ.")
        return data


class NameForm(forms.Form):
    first_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )


def _password_field(label: str, autocomplete: str) -> forms.CharField:
    # Not stripped (a password is what was typed) and never sent back in a re-shown form (render_value off).
    return forms.CharField(
        label=label, max_length=1024, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": autocomplete})
    )


class _NewPasswordForm(forms.Form):
    new_password = _password_field("New password", "new-password")
    new_password_confirm = _password_field("New password again", "new-password")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("new_password_confirm"):
            self.add_error("new_password_confirm", "The two passwords differ.")
        return data


class PasswordChangeForm(_NewPasswordForm):
    current_password = _password_field("Current password", "current-password")
    field_order = ["current_password", "new_password", "new_password_confirm"]


class PasswordResetForm(MobileNumberForm):
    pass


class PasswordResetConfirmForm(_NewPasswordForm):
    mobile_number = MobileNumberForm.base_fields["mobile_number"]
    code = VerifyMobileForm.base_fields["code"]
    field_order = ["mobile_number", "code", "new_password", "new_password_confirm"]


def _choices(any_label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", any_label), *choices]


class HistoryFilterForm(forms.Form):
    """The history page's filters, sent by GET (a bookmarkable URL); ``wallets.history`` reads them.

    Every field is optional text: the parser the API uses judges the values, and its refusal
    is shown beside the field it names.
    """

    q = forms.CharField(
        label="Search notes and names",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "maxlength": "150", "placeholder": "rent, asha…"}),
    )
    since = forms.CharField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.CharField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    direction = forms.CharField(
        label="Direction",
        required=False,
        widget=forms.Select(choices=_choices("In and out", [("in", "Money in"), ("out", "Money out")])),
    )
    type = forms.CharField(
        label="Type",
        required=False,
        widget=forms.Select(
            choices=_choices(
                "Any type",
                [
                    ("ADD_MONEY", "Top-ups"),
                    ("TRANSFER", "Transfer"),
                    ("REFUND", "Refund"),
                    ("REVERSAL", "Reversal"),
                ],
            )
        ),
    )
    status = forms.CharField(
        label="Status",
        required=False,
        widget=forms.Select(choices=_choices("Any status", [("SUCCESS", "Succeeded"), ("FAILED", "Failed")])),
    )
    min_amount = forms.CharField(
        label="Amount from",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
    )
    max_amount = forms.CharField(
        label="Amount to",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
    )
    counterparty = forms.CharField(
        label="With user id",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
