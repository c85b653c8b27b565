"""The admin site: a one-time code after the password when ``PAYLANE_ADMIN_OTP`` is on, every sign-in recorded.

``admin.site`` is this site (``project.apps.PaylaneAdminConfig``), at
``/admin/`` as before. With the setting on it is django-otp's ``OTPAdminSite``
in behaviour: the sign-in form asks for a TOTP code (django-otp's
``OTPAuthenticationFormMixin`` checks it against the user's device, with its
throttling and its refusal of a code already used), and a session counts as
staff only once a code was verified in it (``request.user.is_verified()``,
set by django-otp's ``OTPMiddleware``), so signing in on the home page with a
password never opens the admin. With the setting off the admin asks for the
password only, as Django's does. The setting is read on every request, not
once at start-up, so tests can switch it.

Either way each POST of the sign-in form is recorded
(``wallets.accounts.signins.admin_signin_record``): who, from where, and if
refused why. The forms only say why they refused (``refusal``); the site
records. django-axes' lockout (``AXES_*``) covers this form as every other
sign-in: the password check goes through ``authenticate()``, and a wrong code
counts as a failed sign-in too, so five wrong codes lock the name and address
out as five wrong passwords do.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.debug import sensitive_variables
from django_otp import devices_for_user
from django_otp.forms import OTPAuthenticationFormMixin

from wallets.accounts import signins
from wallets.clientip import client_ip
from wallets.models import AdminSignInReason as Reason
from wallets.models import User

OTP_LOGIN_TEMPLATE = "admin/paylane/otp_login.html"


class AdminSignInForm(AdminAuthenticationForm):
    """Django's admin sign-in form; ``refusal`` says why it refused, for the record."""

    refusal: Reason | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django's form sets the field's max_length after building it, so nothing checks it: a longer
        # name reached authenticate() and django-axes' 255-character column (a 500 on PostgreSQL).
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))  # type: ignore[attr-defined]

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is not None and self.cleaned_data.get("password") and _locked_out(self.request, username):
            # Asked before authenticate(): its refusal looks like a wrong password, and a
            # failure that *starts* a lockout keeps its own reason.
            self.refusal = Reason.LOCKED_OUT
        try:
            return super().clean()
        except ValidationError:
            if self.refusal is None:
                self.refusal = Reason.BAD_PASSWORD
            raise

    def confirm_login_allowed(self, user: Any) -> None:
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            # Same message as a wrong password (Django's): only the record tells them apart.
            self.refusal = Reason.NOT_STAFF if user.is_active else Reason.BAD_PASSWORD
            raise


class AdminOtpSignInForm(OTPAuthenticationFormMixin, AdminSignInForm):
    """The admin sign-in form with a TOTP code, checked by django-otp against the user's device.

    django-otp asks the person to pick a device before it checks a code; a
    staff member has one (``admin_otp_add``), so it is picked for them, in one
    step. Only a user with several devices is shown the choice.
    """

    otp_device = forms.CharField(required=False, widget=forms.Select)
    otp_token = forms.CharField(
        required=False,
        label="One-time code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": "Enter the one-time code from your authenticator app.",
        "invalid_token": "That one-time code is not valid (wrong, expired or already used).",
    }

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        super().clean()
        user = self.get_user()
        try:
            if user is not None and not self.cleaned_data.get("otp_device"):
                self.cleaned_data["otp_device"] = _only_device_id(user)
            self.clean_otp(user)
        except ValidationError as error:
            if error.code == "otp_no_device":
                self.refusal = Reason.OTP_NO_DEVICE
            elif error.code in ("token_required", "device_required"):
                # No code was checked: none typed, or a user with several devices chose none.
                self.refusal = Reason.OTP_MISSING
            else:
                self.refusal = Reason.OTP_INVALID
                # A wrong code is a failed sign-in for django-axes too (as authenticate() reports a wrong
                # password), or the password's holder could try codes past the lockout.
                user_login_failed.send(
                    sender=__name__, credentials={"username": self.cleaned_data["username"]}, request=self.request
                )
            raise
        finally:
            # django-otp puts the password back into the re-shown form (render_value); never send it back.
            self.fields["password"].widget.render_value = False  # type: ignore[attr-defined]
        return self.cleaned_data


def _only_device_id(user: User) -> str | None:
    """The persistent id of the user's one confirmed device; None when they have several (they choose)."""
    devices = list(devices_for_user(user))
    if not devices:
        raise ValidationError(
            "This account has no authenticator device yet; ask an operator to run "
            "`python manage.py admin_otp_add` for it.",
            code="otp_no_device",
        )
    return devices[0].persistent_id if len(devices) == 1 else None


def _locked_out(request: HttpRequest | None, username: str) -> bool:
    """Whether django-axes already refuses this name from this address."""
    if request is None or not getattr(settings, "AXES_ENABLED", True):
        return False
    return bool(AxesProxyHandler.is_locked(request, {"username": username}))


class PaylaneAdminSite(admin.AdminSite):
    """Django's admin site; with ``PAYLANE_ADMIN_OTP`` django-otp's ``OTPAdminSite`` (see the module)."""

    @property
    def login_form(self) -> type[AdminSignInForm]:  # type: ignore[override]
        return AdminOtpSignInForm if settings.PAYLANE_ADMIN_OTP else AdminSignInForm

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return OTP_LOGIN_TEMPLATE if settings.PAYLANE_ADMIN_OTP else None

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        if not settings.PAYLANE_ADMIN_OTP:
            return True
        # OTPMiddleware installs is_verified(); without it (a request built in code) the answer is no.
        is_verified = getattr(request.user, "is_verified", None)
        return bool(is_verified is not None and is_verified())

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        if request.method == "POST":
            _signin_record(request, response)
        return response


def _signin_record(request: HttpRequest, response: HttpResponse) -> None:
    """Record the sign-in form's outcome; a POST that never reached the form (CSRF) is no sign-in."""
    typed = str(request.POST.get("username", ""))
    address = client_ip(request)
    if isinstance(response, HttpResponseRedirect) and request.user.is_authenticated:
        # LoginView signed them in: request.user is the user the form checked, with the device it verified.
        user = request.user
        signins.admin_signin_record(
            username=typed,
            user=user,  # type: ignore[arg-type]
            reason=None,
            otp_verified=getattr(user, "otp_device", None) is not None,
            client_ip=address,
        )
        return
    form = (response.context_data or {}).get("form") if isinstance(response, TemplateResponse) else None
    if isinstance(form, AdminSignInForm) and form.is_bound:
        # A form refused without a reason had fields missing: no credentials were checked.
        signins.admin_signin_record(
            username=typed, user=form.get_user(), reason=form.refusal or Reason.BAD_PASSWORD, client_ip=address
        )
