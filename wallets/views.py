"""Pages. Each view parses a form, calls one service and maps its errors.

The money forms get the API's protections: the per-user movement limit
(``wallets.ratelimit``) and a one-time token per rendered form
(``wallets.formtokens``) that makes a double click, a resubmission or a browser
retry move money once. Sign-up and sign-in count against the API's
per-address limits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import FormView

from ledger.models import Transaction
from ledger.money import money_format
from telemetry.metrics import RATE_LIMITED
from wallets import idempotency, insights, payments, ratelimit, refunds, selectors, services
from wallets.accounts import credentials, payees, pins, registration
from wallets.api.errors import error_response
from wallets.clientip import client_ip
from wallets.errors import (
    DatabaseUnavailable,
    InvalidFilter,
    InvalidMobile,
    PinLocked,
    RateLimited,
    RecipientNotFound,
    SelfTransfer,
    WalletError,
)
from wallets.forms import (
    AddMoneyForm,
    HistoryFilterForm,
    OneTimeForm,
    PasswordChangeForm,
    PayMobileDetailsForm,
    PayMobileForm,
    RegistrationForm,
    TransferForm,
)
from wallets.formtokens import form_token_key
from wallets.history import FIELDS, history_query_parse
from wallets.models import User
from wallets.money import amount_parse
from wallets.notes import note_clean
from wallets.services import OnRecorded

RECENT_ON_DASHBOARD = 10


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, on views that ``login_required`` (or its mixin) guards."""
    user = request.user
    assert isinstance(user, User), "login_required guards this view"
    return user


def _no_wallet(request: HttpRequest) -> HttpResponse:
    return render(request, "no_wallet.html", status=403)


def wallet_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required``, and a clear page (403) for an account without a wallet (``createsuperuser``'s)."""

    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.user_has_wallet(user_id=signed_in_user(request).pk):
            return _no_wallet(request)
        return view(request, *args, **kwargs)

    return guarded


def _limited(limit: ratelimit.Limit, ident: object) -> RateLimited | None:
    decision = ratelimit.hit(limit, ident)
    if decision.allowed:
        return None
    return RateLimited(
        f"Too many attempts. Try again in about {decision.retry_minutes} minute(s).", retry_after=decision.retry_after
    )


def _with_retry_after(response: HttpResponse, error: WalletError) -> HttpResponse:
    if isinstance(error, RateLimited | PinLocked | DatabaseUnavailable):
        response["Retry-After"] = str(max(1, int(error.retry_after + 0.999)))
    return response


DATABASE_UNAVAILABLE_FORM = (
    "We lost the connection to our database while handling this, so we cannot tell yet whether it went through. "
    "Send the form again in a moment: it will not be done twice."
)


def _status_of(error: WalletError) -> int:
    """A page answers a refused form with 400, but says "slow down" (429), "locked" (423) and "busy" (503)
    as the API does."""
    return error.http_status if error.http_status in (423, 429, 503) else 400


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method != "POST":
        return redirect("dashboard")
    login_form = AuthenticationForm(request, prefix="login")
    register_form = RegistrationForm(prefix="register")
    status = 200
    refusal: WalletError | None = None
    if request.method == "POST" and request.POST.get("action") == "register":
        register_form = RegistrationForm(request.POST, prefix="register")
        refusal = _limited(ratelimit.SIGN_UPS, client_ip(request) or "unknown")
        if refusal is None and register_form.is_valid():
            try:
                user = registration.user_register(
                    username=register_form.cleaned_data["username"],
                    password=register_form.cleaned_data["password"],
                    mobile_number=register_form.cleaned_data["mobile_number"],
                    first_name=register_form.cleaned_data["first_name"],
                    last_name=register_form.cleaned_data["last_name"],
                )
            except WalletError as error:
                _add_error(register_form, error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, f"Welcome, {user.username}. We sent a code to {user.profile.mobile_number}: type it below."
                )
                return redirect("verify_mobile")
        elif refusal is not None:
            register_form.add_error(None, refusal.message)
        status = 400
    elif request.method == "POST":
        login_form = AuthenticationForm(request, data=request.POST, prefix="login")
        refusal = _limited(ratelimit.SIGN_INS, client_ip(request) or "unknown")
        if refusal is not None:
            login_form = AuthenticationForm(
                request, prefix="login", initial={"username": request.POST.get("login-username")}
            )
            messages.error(request, refusal.message)
        elif login_form.is_valid():
            login(request, login_form.get_user())
            return redirect("dashboard")
        status = 400
    response = render(request, "home.html", {"login_form": login_form, "register_form": register_form}, status=status)
    if refusal is not None:
        response.status_code = _status_of(refusal)
        _with_retry_after(response, refusal)
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    credentials.session_end(request=request)
    messages.info(request, "You are signed out.")
    return redirect("home")


# A dashboard form posts this (``<input type="hidden" name="from" value="dashboard">``): refused, it is
# shown again on the dashboard, its errors beside its fields, instead of on a page of its own.
FROM_DASHBOARD = "dashboard"


def _from_dashboard(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("from") == FROM_DASHBOARD


def dashboard_render(request: HttpRequest, *, status: int = 200, **forms_shown: forms.Form) -> HttpResponse:
    """The dashboard, with fresh forms but for ``forms_shown`` (``transfer_form=<a refused form>``, say)."""
    user = signed_in_user(request)
    wallet = selectors.wallet_for_user(user=user)
    recent = selectors.transactions_page_for_user(user_id=user.pk, before_id=None, limit=RECENT_ON_DASHBOARD)
    context = {
        "wallet": wallet,
        "spent_today": selectors.wallet_spent_today(wallet=wallet),
        "remaining_today": selectors.wallet_remaining_today(wallet=wallet),
        "recent": recent,
        "refundable": refunds.refunds_offered(entries=recent, user_id=user.pk),
        "pin": pins.pin_status(user_id=wallet.user_id),
        "insights": insights.dashboard_insights(user_id=user.pk),
        "add_money_form": AddMoneyForm(),
        "transfer_form": TransferForm(),
        "pay_mobile_form": PayMobileDetailsForm(),
        **forms_shown,
    }
    return render(request, "dashboard.html", context, status=status)


@wallet_required
@require_http_methods(["GET", "HEAD"])
def dashboard(request: HttpRequest) -> HttpResponse:
    return dashboard_render(request)


def _id_param(raw: str | None) -> int | None:
    """A keyset bound from the query string; anything that is not a plausible id is ignored."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


@wallet_required
@require_http_methods(["GET", "HEAD"])
def transactions(request: HttpRequest) -> HttpResponse:
    """The whole history, newest first, a keyset page at a time: ``?before=<id>`` (older) or ``?after=<id>`` (newer),
    narrowed by the filters of ``GET /api/v1/transactions/`` from a GET form (``wallets.history``).

    No count and no offset: every page is index range scans, however long the history. A filter that
    cannot be read is shown beside its field, with no entries (400).
    """
    user_id, size = signed_in_user(request).pk, settings.PAYLANE_HISTORY_PAGE_SIZE
    form = HistoryFilterForm(request.GET)
    query = None
    if form.is_valid():  # the form refuses only what no text field takes (a NUL character)
        given = {name: value for name in FIELDS if (value := form.cleaned_data.get(name) or "")}
        try:
            query = history_query_parse(given)
        except InvalidFilter as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
    if query is None:
        context = {"entries": [], "form": form, "filtered": True, "newer": None, "older": None, "filters": ""}
        return render(request, "transactions.html", context, status=400)
    after = _id_param(request.GET.get("after"))
    before = None if after is not None else _id_param(request.GET.get("before"))

    def page(**bounds: int | None) -> list[Transaction]:
        return selectors.transactions_page_for_user(user_id=user_id, query=query, **bounds)  # type: ignore[arg-type]

    if after is not None:
        entries = page(after_id=after, limit=size + 1)
        has_newer, entries = len(entries) > size, entries[-size:]
        has_older = bool(entries) and bool(page(before_id=entries[-1].pk, limit=1))
    else:
        entries = page(before_id=before, limit=size + 1)
        has_older, entries = len(entries) > size, entries[:size]
        has_newer = before is not None and bool(entries and page(after_id=entries[0].pk, limit=1))
    context = {
        "entries": entries,
        "refundable": refunds.refunds_offered(entries=entries, user_id=user_id),
        "form": form,
        "filtered": bool(query),
        "filters": urlencode(query.params()),
        "newer": entries[0].pk if has_newer and entries else None,
        "older": entries[-1].pk if has_older and entries else None,
    }
    return render(request, "transactions.html", context)


class MoneyFormView(LoginRequiredMixin, FormView):  # type: ignore[type-arg]
    """GET shows the form; POST runs ``perform`` once per form token and shows its outcome.

    The outcome of a submission is stored with its ledger row (wallets.idempotency):
    the same form sent again (double click, resubmission, retry) is answered with
    that first outcome and moves nothing.
    """

    http_method_names = ["get", "head", "post"]
    form_class: type[OneTimeForm]
    # Names the form's records apart from the other forms' and the API's.
    endpoint = ""
    # The form field that a recipient error (unknown, yourself) belongs to.
    recipient_field: str | None = None
    # The dashboard's name for this form: a refused form sent from the dashboard is shown there again.
    dashboard_form: str | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not selectors.user_has_wallet(user_id=request.user.pk):
            return _no_wallet(request)
        return super().dispatch(request, *args, **kwargs)

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = _limited(ratelimit.MONEY_MOVEMENTS, signed_in_user(request).pk)
        if refusal is None:
            return super().post(request, *args, **kwargs)
        form = self.get_form()
        form.is_valid()
        form.add_error(None, refusal.message)
        return self.refused(form, refusal)

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            outcome = idempotency.idempotent_call(
                user=signed_in_user(self.request),
                key=form_token_key(form.cleaned_data["form_token"]),
                endpoint=f"page:{self.endpoint}",
                body=form.payload(),
                perform=lambda hook: self.perform(form.cleaned_data, hook),
                render=self.outcome,
            )
        except WalletError as error:
            if isinstance(error, DatabaseUnavailable):
                error = DatabaseUnavailable(DATABASE_UNAVAILABLE_FORM)
            _add_error(form, error, recipient_field=self.recipient_field)
            return self.refused(form, error)
        body = outcome.body
        if not body["ok"]:
            form.add_error(_visible_field(form, body["field"]), body["message"])
            return self.form_invalid(form)
        if outcome.replayed:
            messages.info(self.request, f"That form was already sent; nothing more was done. {body['message']}")
        else:
            messages.success(self.request, body["message"])
        return redirect("dashboard")

    def outcome(self, entry: Transaction, refusal: WalletError | None) -> tuple[int, dict[str, Any]]:
        """What a submission came to, stored with its token: shown again if the form comes back."""
        if refusal is None:
            return 303, {"ok": True, "message": self.success_message(entry), "transaction_id": entry.pk}
        field = refusal.field
        message = f"{refusal.message} The attempt is recorded as failed transaction #{entry.pk}."
        return 400, {"ok": False, "field": field, "message": message, "transaction_id": entry.pk}

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form.fresh()), status=400)

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        if self.dashboard_form and _from_dashboard(self.request):
            status = response_kwargs.get("status", 200)
            return dashboard_render(self.request, status=status, **{self.dashboard_form: context["form"]})
        return super().render_to_response(context, **response_kwargs)

    def refused(self, form: Any, error: WalletError) -> HttpResponse:
        # A lost database connection leaves the outcome unknown: the form keeps its token, so sending
        # it again replays the first outcome if it committed and runs it once if it did not.
        form = form if isinstance(error, DatabaseUnavailable) else form.fresh()
        response = self.render_to_response(self.get_context_data(form=form), status=_status_of(error))
        return _with_retry_after(response, error)

    def success_message(self, entry: Transaction) -> str:
        return f"Done: {money_format(entry.amount, entry.currency)}."


class AddMoneyView(MoneyFormView):
    template_name = "add_money.html"
    form_class = AddMoneyForm
    endpoint = "add_money"
    dashboard_form = "add_money_form"

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return services.wallet_top_up(user=signed_in_user(self.request), amount=data["amount"], on_recorded=on_recorded)

    def success_message(self, entry: Transaction) -> str:
        return f"Added {money_format(entry.amount, entry.currency)} to your wallet."


@method_decorator(sensitive_post_parameters("pin"), name="dispatch")
class TransferView(MoneyFormView):
    """Pay a user id: the form asks for the PIN (``wallets.payments``)."""

    template_name = "transfer.html"
    form_class: type[OneTimeForm] = TransferForm
    endpoint = "transfer"
    recipient_field = "to_user_id"
    dashboard_form: str | None = "transfer_form"

    def get_initial(self) -> dict[str, Any]:
        """``/transfer/?to=<id>``: "pay again" on the dashboard opens the form with the payee filled in."""
        initial = super().get_initial()
        to = _id_param(self.request.GET.get("to"))
        if to is not None:
            initial["to_user_id"] = str(to)
        return initial

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return payments.payment_send(
            sender=signed_in_user(self.request),
            pin=data["pin"],
            to_user_id=data["to_user_id"],
            amount=data["amount"],
            note=data.get("note") or "",
            on_recorded=on_recorded,
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["pin"] = pins.pin_status(user_id=signed_in_user(self.request).pk)
        return context

    def success_message(self, entry: Transaction) -> str:
        return f"Sent {money_format(entry.amount, entry.currency)} to {entry.receiver.username}."


@method_decorator(sensitive_post_parameters("pin"), name="dispatch")
class PayMobileView(TransferView):
    """Pay a mobile number in two steps: the number and amount, then whose number it is and the PIN.

    The first step (``step=review``) looks the number up as the payment will
    (``wallets.accounts.payees``: the same recipient lookup limit) and shows the
    payee's masked name and the amount with the PIN field; only that second
    form carries a one-time token, and only its POST moves money.
    """

    template_name = "pay_mobile_confirm.html"
    form_class = PayMobileForm
    endpoint = "pay_mobile"
    recipient_field = "mobile_number"
    # Only the first step is on the dashboard (``_details``); the confirmation is a page of its own.
    dashboard_form = None
    # Set when the payee is known for this response: the confirmation shows it.
    payee: payees.Payee | None = None
    # Set when the final POST was refused for its recipient: the page then looks nobody up again.
    _recipient_refused = False

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._details(PayMobileDetailsForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("step") == "review":
            return self.review(request)
        return super().post(request, *args, **kwargs)

    def review(self, request: HttpRequest) -> HttpResponse:
        details = PayMobileDetailsForm(request.POST)
        if not details.is_valid():
            return self._details(details, status=400)
        user = signed_in_user(request)
        try:
            amount = amount_parse(details.cleaned_data["amount"])
            note = note_clean(details.cleaned_data["note"])
            self.payee = payees.recipient_lookup(viewer=user, mobile_number=details.cleaned_data["mobile_number"])
            if self.payee.user_id == user.pk:
                raise SelfTransfer()
        except WalletError as error:
            _add_error(details, error, recipient_field="mobile_number")
            return _with_retry_after(self._details(details, status=_status_of(error)), error)
        form = PayMobileForm(
            initial={"mobile_number": details.cleaned_data["mobile_number"], "amount": str(amount), "note": note}
        )
        return self.render_to_response(self.get_context_data(form=form))

    def _details(self, form: forms.Form, *, status: int = 200) -> HttpResponse:
        if _from_dashboard(self.request):
            return dashboard_render(self.request, status=status, pay_mobile_form=form)
        return render(self.request, "pay_mobile.html", {"form": form}, status=status)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context["form"]
        mobile = form.data.get(form.add_prefix("mobile_number")) if form.is_bound else form.initial.get("mobile_number")
        amount = form.data.get(form.add_prefix("amount")) if form.is_bound else form.initial.get("amount")
        note = form.data.get(form.add_prefix("note")) if form.is_bound else form.initial.get("note")
        if self.payee is None and mobile and not self._recipient_refused:
            # A confirmation shown again (a wrong PIN, say): the same lookup, which finds them and so counts nothing.
            try:
                self.payee = payees.recipient_lookup(viewer=signed_in_user(self.request), mobile_number=mobile)
            except WalletError:
                self.payee = None
        try:
            context["amount"] = amount_parse(amount)
        except WalletError:
            context["amount"] = None
        context.update(payee=self.payee, mobile_number=mobile, note=note)
        return context

    def refused(self, form: Any, error: WalletError) -> HttpResponse:
        self._recipient_refused = isinstance(error, RecipientNotFound | RateLimited | InvalidMobile)
        return super().refused(form, error)

    def perform(self, data: dict[str, Any], on_recorded: OnRecorded | None) -> Transaction:
        return payments.payment_send(
            sender=signed_in_user(self.request),
            pin=data["pin"],
            to_mobile=data["mobile_number"],
            amount=data["amount"],
            note=data.get("note") or "",
            on_recorded=on_recorded,
        )


def _visible_field(form: forms.Form, name: str | None) -> str | None:
    """``name`` if the form shows it as a field of its own; None (the form's top) for a hidden or unknown one."""
    if name and name in form.fields and not form.fields[name].widget.is_hidden:
        return name
    return None


def _add_error(form: forms.Form, error: WalletError, *, recipient_field: str | None = None) -> None:
    """Show ``error`` beside its field: the recipient's for a recipient refusal, the form's top otherwise."""
    field: str | None
    if error.field in form.fields:
        field = error.field
    elif error.field == "recipient" or isinstance(error, RecipientNotFound | SelfTransfer):
        field = recipient_field
    else:
        field = None
    field = _visible_field(form, field)
    message = error.message
    if error.transaction is not None:
        message += f" The attempt is recorded as failed transaction #{error.transaction.pk}."
    form.add_error(field, message)


# --- django-axes' hooks (AXES_USERNAME_CALLABLE, AXES_LOCKOUT_CALLABLE) ---------------------------


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The name a lockout counts against: as typed, in lower case (sign-in ignores case), and no longer
    than a username can be (the page's sign-in form does not check the length, and django-axes stores it)."""
    name = str((credentials or {}).get("username") or "").strip().lower()
    return name[: User._meta.get_field("username").max_length or 150]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The answer to a locked-out sign-in: JSON for the API; the password page for wrong current passwords
    typed there; the sign-in page otherwise."""
    RATE_LIMITED.labels("lockout").inc()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = f"Too many failed sign-in attempts. Try again in {minutes} minutes."
    headers = {"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))}
    if request.path.startswith("/api/"):
        return error_response(429, "rate_limited", message, headers=headers)
    messages.error(request, message)
    if request.resolver_match is not None and request.resolver_match.url_name == "password_change":
        # Wrong current passwords count as failed sign-ins: the lockout answers on the page that was used.
        response = render(request, "password_change.html", {"form": PasswordChangeForm()}, status=429)
    else:
        response = render(
            request,
            "home.html",
            {
                "login_form": AuthenticationForm(request, prefix="login"),
                "register_form": RegistrationForm(prefix="register"),
            },
            status=429,
        )
    response["Retry-After"] = headers["Retry-After"]
    return response
