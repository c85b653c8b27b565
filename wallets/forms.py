"""Form shapes for the pages. The rules themselves live in the services."""

from __future__ import annotations

from django import forms


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


class RegistrationForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
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


class AddMoneyForm(forms.Form):
    amount = AmountField()


class TransferForm(forms.Form):
    to_user_id = forms.CharField(
        max_length=20, label="Recipient user id", widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    amount = AmountField()


class PayMobileForm(forms.Form):
    mobile_number = forms.CharField(
        max_length=32,
        label="Recipient mobile number",
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "98765 43210"}),
    )
    amount = AmountField()
