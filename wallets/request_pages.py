"""The money-request pages: /requests/ (ask, incoming with Pay and Decline, outgoing with Cancel), and the
POSTs behind the dashboard's pending-requests list (templates/partials/pending_requests.html).

Each view parses a form, calls one service (``wallets.money_requests``) and maps its errors. Paying takes
the PIN under a one-time form token (``wallets.formtokens``), so a double click pays once, and counts
against the per-user money-movement limit as every payment form does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from ledger.models import Transaction
from ledger.money import money_format
from wallets import idempotency, money_requests, ratelimit
from wallets.errors import InvalidMobile, RecipientNotFound, RequestNotFound, SelfRequest, WalletError
from wallets.formtokens import form_token_key
from wallets.request_forms import RequestCreateForm, RequestPayForm
from wallets.request_selectors import requests_for_user
from wallets.views import _limited, _status_of, _with_retry_after, signed_in_user, wallet_required

# Requests listed in each direction on the page (newest first).
LISTED = 50
# Where a request form may send the person back to.
RETURN_TO = {"dashboard": "dashboard", "requests": "requests"}


def _back(request: HttpRequest) -> HttpResponse:
    return redirect(RETURN_TO.get(request.POST.get("next", ""), "requests"))


def _page(
    request: HttpRequest,
    *,
    form: RequestCreateForm | None = None,
    row_errors: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user_id = signed_in_user(request).pk
    context = {
        "form": form or RequestCreateForm(),
        "incoming": list(requests_for_user(user_id=user_id, direction="incoming")[:LISTED]),
        "outgoing": list(requests_for_user(user_id=user_id, direction="outgoing")[:LISTED]),
        "row_errors": row_errors or {},
    }
    return render(request, "requests.html", context, status=status)


@wallet_required
@require_http_methods(["GET", "HEAD", "POST"])
def requests_page(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST: ask someone for money (``money_requests.request_create``)."""
    if request.method != "POST":
        return _page(request)
    form = RequestCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        made = money_requests.request_create(
            requester=signed_in_user(request),
            amount=data["amount"],
            to_user_id=data["to_user_id"] or None,
            to_mobile=data["to_mobile"] or None,
            note=data["note"],
        )
    except WalletError as error:
        form.add_error(_create_field(error, by_mobile=bool(data["to_mobile"])), error.message)
        return _with_retry_after(_page(request, form=form, status=_status_of(error)), error)
    messages.success(request, f"You asked {made.payer.username} for {money_format(made.amount)}.")
    return redirect("requests")


def _create_field(error: WalletError, *, by_mobile: bool) -> str | None:
    recipient = "to_mobile" if by_mobile else "to_user_id"
    if isinstance(error, RecipientNotFound | SelfRequest | InvalidMobile) or error.field in ("recipient", "user_id"):
        return recipient
    if error.field in ("amount", "note"):
        return error.field
    return None


def _paid(entry: Transaction, refusal: WalletError | None) -> tuple[int, dict[str, Any]]:
    """What a Pay submission came to, stored with its form token: shown again if the form comes back."""
    if refusal is None:
        message = f"Paid {money_format(entry.amount, entry.currency)} to {entry.receiver.username}."
        return 303, {"ok": True, "message": message, "transaction_id": entry.pk}
    message = f"{refusal.message} The attempt is recorded as failed transaction #{entry.pk}."
    return 400, {"ok": False, "message": message, "transaction_id": entry.pk}


@sensitive_post_parameters("pin")
@wallet_required
@require_POST
def request_pay(request: HttpRequest, request_id: int) -> HttpResponse:
    """Pay a request with the PIN, once per form token (``money_requests.request_pay``)."""
    user = signed_in_user(request)
    if not 0 < request_id < 2**63:
        return _page(request, row_errors={request_id: RequestNotFound.default_message}, status=404)
    form = RequestPayForm(request.POST)
    form.is_valid()
    refusal = _limited(ratelimit.MONEY_MOVEMENTS, user.pk)
    try:
        if refusal is not None:
            raise refusal
        outcome = idempotency.idempotent_call(
            user=user,
            key=form_token_key(form.cleaned_data.get("form_token")),
            endpoint=f"page:rq_pay:{request_id}",
            body=form.payload(),
            perform=lambda hook: money_requests.request_pay(
                payer=user, request_id=request_id, pin=form.cleaned_data.get("pin"), on_recorded=hook
            ),
            render=_paid,
        )
    except WalletError as error:
        if error.transaction is not None:
            message = f"{error.message} The attempt is recorded as failed transaction #{error.transaction.pk}."
        else:
            message = error.message
        return _with_retry_after(_page(request, row_errors={request_id: message}, status=_status_of(error)), error)
    if not outcome.body["ok"]:
        return _page(request, row_errors={request_id: outcome.body["message"]}, status=400)
    if outcome.replayed:
        messages.info(request, f"That form was already sent; nothing more was done. {outcome.body['message']}")
    else:
        messages.success(request, outcome.body["message"])
    return _back(request)


@wallet_required
@require_POST
def request_decline(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        declined = money_requests.request_decline(payer=signed_in_user(request), request_id=request_id)
    except WalletError as error:
        return _page(request, row_errors={request_id: error.message}, status=_status_of(error))
    messages.info(request, f"You declined {declined.requester.username}'s request for {money_format(declined.amount)}.")
    return _back(request)


@wallet_required
@require_POST
def request_cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        cancelled = money_requests.request_cancel(requester=signed_in_user(request), request_id=request_id)
    except WalletError as error:
        return _page(request, row_errors={request_id: error.message}, status=_status_of(error))
    messages.info(request, f"You cancelled your request to {cancelled.payer.username}.")
    return _back(request)
