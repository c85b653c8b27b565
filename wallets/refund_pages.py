"""The refund page: the receiver of a payment gives some or all of it back (``wallets.refunds``).

Reached from the Refund button on a row of the history. The form carries the
one-time form token (a double click refunds once) and asks for the payment PIN;
the amount starts at what is left of the payment. Refusals show in the form.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from ledger.models import Transaction
from ledger.money import money_format, money_str
from wallets import corrections, refunds, selectors
from wallets.accounts import pins
from wallets.errors import TransactionNotFound, WalletError
from wallets.forms import AmountField, NoteField, OneTimeForm, PinField
from wallets.services import OnRecorded
from wallets.views import MoneyFormView, _status_of, signed_in_user


class RefundForm(OneTimeForm):
    amount = AmountField(label="Amount to give back")
    note = NoteField()
    pin = PinField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].widget.attrs["placeholder"] = "Why? (optional)"


@method_decorator(sensitive_post_parameters("pin"), name="dispatch")
class RefundView(MoneyFormView):
    """``/transactions/<id>/refund/``: GET shows the payment and the form; POST refunds once per form token."""

    template_name = "refund.html"
    form_class = RefundForm

    entry: Transaction
    rest: Decimal

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.transaction_id = int(kwargs["transaction_id"])
        # The form's records name the payment: a token is never replayed onto another one.
        self.endpoint = f"refund:{self.transaction_id}"
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.entry, self.rest = refunds.refundable_entry(
                user=signed_in_user(request), transaction_id=self.transaction_id
            )
        except TransactionNotFound:
            raise Http404("You have no transaction with that id.") from None
        except WalletError as refusal:
            return render(request, "refund.html", {"refusal": refusal.message}, status=_status_of(refusal))
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        found = selectors.transaction_for_user(user_id=signed_in_user(request).pk, transaction_id=self.transaction_id)
        if found is None:
            raise Http404("You have no transaction with that id.")
        self.entry, self.rest = found, corrections.refundable_rest(entry=found)
        return super().post(request, *args, **kwargs)

    def get_initial(self) -> dict[str, Any]:
        return {"amount": money_str(self.rest)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["entry"] = self.entry
        context["pin"] = pins.pin_status(user_id=signed_in_user(self.request).pk)
        return context

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return refunds.refund_create(
            user=signed_in_user(self.request),
            transaction_id=self.transaction_id,
            pin=data.get("pin"),
            amount=data["amount"],
            note=data.get("note") or "",
            on_recorded=on_recorded,
        )

    def success_message(self, entry: Transaction) -> str:
        return f"Refunded {money_format(entry.amount, entry.currency)} to {entry.receiver.username}."
