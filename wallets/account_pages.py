"""Identity pages: proving the mobile number, the payment PIN, the name payers see.

Each view parses a form, calls one service of ``wallets.accounts`` and shows its refusal.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from wallets.accounts import payees, pins, verification
from wallets.errors import AlreadyVerified, PinLocked, RateLimited, WalletError
from wallets.forms import MobileNumberForm, NameForm, PinSetForm, VerifyMobileForm
from wallets.models import Profile
from wallets.views import signed_in_user, wallet_required


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def verify_mobile(request: HttpRequest) -> HttpResponse:
    """Type the code sent to your number; or ask for a new one; or, while unverified, claim another number."""
    user = signed_in_user(request)
    profile = Profile.objects.filter(user_id=user.pk).first()
    if profile is None:
        return render(request, "no_wallet.html", status=403)
    if profile.mobile_verified:
        return redirect("dashboard")
    code_form, number_form = VerifyMobileForm(), MobileNumberForm(initial={"mobile_number": profile.mobile_number})
    status = 200
    action = request.POST.get("action")
    if request.method == "POST":
        try:
            if action == "resend":
                number_form = MobileNumberForm(request.POST)
                sent_to = verification.mobile_code_send(
                    user=user, mobile_number=number_form.data.get("mobile_number") or None
                )
                messages.info(request, f"We sent a new code to {sent_to}.")
                return redirect("verify_mobile")
            code_form = VerifyMobileForm(request.POST)
            if code_form.is_valid():
                verification.mobile_verify(user=user, code=code_form.cleaned_data["code"])
                messages.success(request, "Your mobile number is verified: your wallet is ready to use.")
                return redirect("dashboard")
            status = 400
        except AlreadyVerified:
            return redirect("dashboard")
        except WalletError as error:
            form = number_form if action == "resend" else code_form
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
            status = 429 if isinstance(error, RateLimited) else 400
    profile.refresh_from_db()
    context = {"code_form": code_form, "number_form": number_form, "profile": profile}
    return render(request, "verify_mobile.html", context, status=status)


@sensitive_post_parameters("pin", "pin_confirm", "current_pin", "code")
@wallet_required
@require_http_methods(["GET", "HEAD", "POST"])
def pin_page(request: HttpRequest) -> HttpResponse:
    """Set the payment PIN; or change it with the current PIN or a code sent to the verified number.

    ``action=code`` sends that code; ``action=set`` sets or changes the PIN.
    """
    user = signed_in_user(request)
    current = pins.pin_status(user_id=user.pk)
    form = PinSetForm(has_pin=current is not None)
    status = 200
    if request.method == "POST" and request.POST.get("action") == "code":
        try:
            sent_to = pins.pin_code_send(user=user)
        except WalletError as error:
            messages.error(request, error.message)
            status = error.http_status if error.http_status in (429, 503) else 400
        else:
            messages.info(request, f"We sent a code to {sent_to}: type it below with your new PIN.")
            return redirect("pin")
    elif request.method == "POST":
        form = PinSetForm(request.POST, has_pin=current is not None)
        if form.is_valid():
            try:
                change = pins.pin_set(
                    user=user,
                    pin=form.cleaned_data["pin"],
                    current_pin=form.cleaned_data.get("current_pin"),
                    code=form.cleaned_data.get("code"),
                )
            except WalletError as error:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
                status = error.http_status if isinstance(error, PinLocked | RateLimited) else 400
            else:
                done = "set" if change.kind is pins.PinChangeKind.SET else "changed"
                messages.success(request, f"Your payment PIN is {done}.")
                return redirect("dashboard")
        else:
            status = 400
    if status != 200:
        current = pins.pin_status(user_id=user.pk)
    locked = current is not None and current.locked_until is not None and current.locked_until > timezone.now()
    context = {
        "form": form,
        "pin": current,
        "locked_until": current.locked_until if locked and current else None,
        "profile": Profile.objects.filter(user_id=user.pk).first(),
    }
    return render(request, "pin.html", context, status=status)


@wallet_required
@require_http_methods(["GET", "HEAD", "POST"])
def name_page(request: HttpRequest) -> HttpResponse:
    """The first and last name payers see, masked, before they pay you."""
    user = signed_in_user(request)
    form = NameForm(initial={"first_name": user.first_name, "last_name": user.last_name})
    status = 200
    if request.method == "POST":
        form = NameForm(request.POST)
        if form.is_valid():
            try:
                name = payees.display_name_set(
                    user=user, first_name=form.cleaned_data["first_name"], last_name=form.cleaned_data["last_name"]
                )
            except WalletError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, f"Saved. People who pay you see: {name.masked}")
                return redirect("dashboard")
        status = 400
    masked = payees.display_name(username=user.username, first_name=user.first_name, last_name=user.last_name)
    return render(request, "name.html", {"form": form, "masked": masked}, status=status)
