"""Pages. Each view parses a form, calls one service and maps its errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import FormView

from ledger.models import Transaction
from wallets import selectors, services
from wallets.accounts import credentials
from wallets.errors import WalletError
from wallets.forms import AddMoneyForm, PayMobileForm, RegistrationForm, TransferForm
from wallets.models import User
from wallets.money import money_format

RECENT_ON_DASHBOARD = 10


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, on views that ``login_required`` (or its mixin) guards."""
    user = request.user
    assert isinstance(user, User), "login_required guards this view"
    return user


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method != "POST":
        return redirect("dashboard")
    login_form = AuthenticationForm(request, prefix="login")
    register_form = RegistrationForm(prefix="register")
    status = 200
    if request.method == "POST" and request.POST.get("action") == "register":
        register_form = RegistrationForm(request.POST, prefix="register")
        if register_form.is_valid():
            try:
                user = services.user_register(
                    username=register_form.cleaned_data["username"],
                    password=register_form.cleaned_data["password"],
                    mobile_number=register_form.cleaned_data["mobile_number"],
                )
            except WalletError as error:
                _add_error(register_form, error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome, {user.username}. Your wallet is ready.")
                return redirect("dashboard")
        status = 400
    elif request.method == "POST":
        login_form = AuthenticationForm(request, data=request.POST, prefix="login")
        if login_form.is_valid():
            login(request, login_form.get_user())
            return redirect("dashboard")
        status = 400
    return render(request, "home.html", {"login_form": login_form, "register_form": register_form}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    credentials.session_end(request=request)
    messages.info(request, "You are signed out.")
    return redirect("home")


@login_required
@require_http_methods(["GET", "HEAD"])
def dashboard(request: HttpRequest) -> HttpResponse:
    wallet = selectors.wallet_for_user(user=signed_in_user(request))
    context = {
        "wallet": wallet,
        "spent_today": selectors.wallet_spent_today(wallet=wallet),
        "remaining_today": selectors.wallet_remaining_today(wallet=wallet),
        "recent": selectors.transactions_for_user(user_id=signed_in_user(request).pk)[:RECENT_ON_DASHBOARD],
        "add_money_form": AddMoneyForm(),
        "transfer_form": TransferForm(),
        "pay_mobile_form": PayMobileForm(),
    }
    return render(request, "dashboard.html", context)


@login_required
@require_http_methods(["GET", "HEAD"])
def transactions(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(
        selectors.transactions_for_user(user_id=signed_in_user(request).pk), settings.PAYLANE_HISTORY_PAGE_SIZE
    )
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "transactions.html", {"page": page})


class MoneyFormView(LoginRequiredMixin, FormView):  # type: ignore[type-arg]
    """GET shows the form; POST calls ``perform`` and maps a refusal to the form."""

    http_method_names = ["get", "head", "post"]
    form_class: type[forms.Form]
    # The form field that a recipient error (unknown, yourself) belongs to.
    recipient_field: str | None = None

    def perform(self, data: dict[str, Any]) -> Transaction:
        raise NotImplementedError

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            entry = self.perform(form.cleaned_data)
        except WalletError as error:
            _add_error(form, error, recipient_field=self.recipient_field)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message(entry))
        return redirect("dashboard")

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def success_message(self, entry: Transaction) -> str:
        return f"Done: {money_format(entry.amount, entry.currency)}."


class AddMoneyView(MoneyFormView):
    template_name = "add_money.html"
    form_class = AddMoneyForm

    def perform(self, data: dict[str, Any]) -> Transaction:
        return services.wallet_top_up(user=signed_in_user(self.request), amount=data["amount"])

    def success_message(self, entry: Transaction) -> str:
        return f"Added {money_format(entry.amount, entry.currency)} to your wallet."


class TransferView(MoneyFormView):
    template_name = "transfer.html"
    form_class: type[forms.Form] = TransferForm
    recipient_field = "to_user_id"

    def perform(self, data: dict[str, Any]) -> Transaction:
        return services.transfer_create(
            sender=signed_in_user(self.request),
            to_user_id=data["to_user_id"],
            amount=data["amount"],
        )

    def success_message(self, entry: Transaction) -> str:
        return f"Sent {money_format(entry.amount, entry.currency)} to {entry.receiver.username}."


class PayMobileView(TransferView):
    template_name = "pay_mobile.html"
    form_class = PayMobileForm
    recipient_field = "mobile_number"

    def perform(self, data: dict[str, Any]) -> Transaction:
        return services.transfer_create(
            sender=signed_in_user(self.request),
            to_mobile=data["mobile_number"],
            amount=data["amount"],
        )


def _add_error(form: Any, error: WalletError, *, recipient_field: str | None = None) -> None:
    field = error.field if error.field in form.fields else recipient_field
    message = error.message
    if error.transaction is not None:
        message += f" The attempt is recorded as failed transaction #{error.transaction.pk}."
    form.add_error(field, message)
