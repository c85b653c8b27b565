"""The money-request pages' forms (wallets.request_pages)."""

from __future__ import annotations

from django import forms

from wallets.forms import AmountField, NoteField, OneTimeForm, PinField


class RequestCreateForm(forms.Form):
    """Ask someone for money: by user id or by mobile number (one of them)."""

    to_user_id = forms.CharField(
        max_length=20,
        required=False,
        label="Their user id",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    to_mobile = forms.CharField(
        max_length=32,
        required=False,
        label="Or their mobile number",
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "98765 43210"}),
    )
    amount = AmountField()
    note = NoteField()

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if bool(data.get("to_user_id")) == bool(data.get("to_mobile")):
            self.add_error("to_user_id", "Give their user id or their mobile number (one of them).")
        return data


class RequestPayForm(OneTimeForm):
    """Pay a request: the PIN, under a one-time form token."""

    pin = PinField()
