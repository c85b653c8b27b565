"""Password pages: change it (signed in), or reset it with a code sent to the verified number (linked from sign-in).

Each view parses a form, calls one service of ``wallets.accounts.passwords`` and
shows its refusal. A wrong current password counts against django-axes as a
failed sign-in; its lockout answers with this page (``wallets.views.lockout_response``).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from wallets.accounts import passwords
from wallets.clientip import client_ip
from wallets.errors import RateLimited, WalletError
from wallets.forms import PasswordChangeForm, PasswordResetConfirmForm, PasswordResetForm
from wallets.views import signed_in_user

# The number typed on the reset page, offered again on the confirmation page (this browser's session only).
RESET_MOBILE = "password_reset_mobile"
SECRETS = ("current_password", "new_password", "new_password_confirm", "code")


def _refused(request: HttpRequest, template: str, form: forms.Form, error: WalletError) -> HttpResponse:
    """The form again with the refusal beside its field: 400, or 429 with Retry-After when rate-limited."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
    response = render(request, template, {"form": form}, status=429 if isinstance(error, RateLimited) else 400)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(max(1, int(error.retry_after + 0.999)))
    return response


@sensitive_post_parameters(*SECRETS)
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Type the current password and a new one: every other session and every API token is signed out."""
    if request.method != "POST":
        return render(request, "password_change.html", {"form": PasswordChangeForm()})
    form = PasswordChangeForm(request.POST)
    if not form.is_valid():
        return render(request, "password_change.html", {"form": form}, status=400)
    user = signed_in_user(request)
    try:
        passwords.password_change(
            request=request,
            user=user,
            current_password=form.cleaned_data["current_password"],
            new_password=form.cleaned_data["new_password"],
            issue_token=False,
        )
    except WalletError as error:
        return _refused(request, "password_change.html", form, error)
    # This browser stays signed in (a new session key, the new password's hash); every other session is out.
    user.refresh_from_db(fields=["password"])
    update_session_auth_hash(request, user)
    messages.success(request, "Your password is changed. Every other session and every API token is signed out.")
    return redirect("dashboard")


@require_http_methods(["GET", "HEAD", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Give the account's verified number: a code goes to it, if an account verified it (the page never says)."""
    if request.method != "POST":
        return render(request, "password_reset.html", {"form": PasswordResetForm()})
    form = PasswordResetForm(request.POST)
    if not form.is_valid():
        return render(request, "password_reset.html", {"form": form}, status=400)
    mobile = form.cleaned_data["mobile_number"]
    try:
        passwords.password_reset_request(mobile_number=mobile, client_ip=client_ip(request))
    except WalletError as error:
        return _refused(request, "password_reset.html", form, error)
    request.session[RESET_MOBILE] = mobile
    messages.info(
        request, "If an account verified that number, we sent it a code. It expires in 10 minutes: type it below."
    )
    return redirect("password_reset_confirm")


@sensitive_post_parameters(*SECRETS)
@require_http_methods(["GET", "HEAD", "POST"])
def password_reset_confirm(request: HttpRequest) -> HttpResponse:
    """Type the code and a new password: every session and every API token of the account is signed out."""
    if request.method != "POST":
        form = PasswordResetConfirmForm(initial={"mobile_number": request.session.get(RESET_MOBILE, "")})
        return render(request, "password_reset_confirm.html", {"form": form})
    form = PasswordResetConfirmForm(request.POST)
    if not form.is_valid():
        return render(request, "password_reset_confirm.html", {"form": form}, status=400)
    try:
        passwords.password_reset_confirm(
            mobile_number=form.cleaned_data["mobile_number"],
            code=form.cleaned_data["code"],
            new_password=form.cleaned_data["new_password"],
            client_ip=client_ip(request),
            issue_token=False,
        )
    except WalletError as error:
        return _refused(request, "password_reset_confirm.html", form, error)
    request.session.pop(RESET_MOBILE, None)
    messages.success(request, "Your password is reset, and every session and API token is signed out. Sign in.")
    return redirect("home")
