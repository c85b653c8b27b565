"""Identity pages: proving the mobile number (and, as identity grows, the PIN and the password).

Each view parses a form, calls one service of ``wallets.accounts`` and shows its refusal.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from wallets.accounts import verification
from wallets.errors import AlreadyVerified, RateLimited, WalletError
from wallets.forms import MobileNumberForm, VerifyMobileForm
from wallets.models import Profile
from wallets.views import signed_in_user


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
