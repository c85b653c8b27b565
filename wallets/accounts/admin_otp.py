"""The admin's second factor: one TOTP device (django-otp) per staff member.

``admin_otp_device_add`` enrols a staff user (``python manage.py
admin_otp_add USERNAME``); the admin site checks codes against the device
(``wallets/accounts/admin_site.py``) when ``PAYLANE_ADMIN_OTP`` is on. The
device's key is django-otp's: 20 random bytes, stored in its table
(``otp_totp_totpdevice``), shown once as the ``otpauth://`` URI an
authenticator app scans.
"""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from wallets.errors import WalletError
from wallets.models import User

DEVICE_NAME = "admin"


class StaffNotFound(WalletError):
    code = "user_not_found"
    http_status = 404
    field = "username"
    default_message = "No user has that username."


class NotStaff(WalletError):
    code = "not_staff"
    http_status = 403
    field = "username"
    default_message = "That user is not staff: only staff sign in to the admin."


class OtpDeviceExists(WalletError):
    code = "otp_device_exists"
    http_status = 409
    field = "username"
    default_message = "That user already has an authenticator device; replace it on purpose (--replace)."


@transaction.atomic(durable=True)
def admin_otp_device_add(*, username: str, replace: bool = False) -> TOTPDevice:
    """Give the staff user named ``username`` (any case) a new, confirmed TOTP device.

    Refuses an unknown user (``StaffNotFound``), one who is not staff
    (``NotStaff``), and one who already has a device (``OtpDeviceExists``)
    unless ``replace``: then every device of theirs is deleted first, so a
    lost phone's codes stop working in the same commit. One device per user
    is what lets the sign-in form pick it without asking.

    Transaction: one, durable. Locks: the user's row (``SELECT … FOR
    UPDATE``), so two enrolments of one user cannot both find no device.
    Side effects: none; the caller shows the device's ``config_url`` (it holds
    the secret: never log it).
    """
    try:
        named = User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        raise StaffNotFound(f"No user is named {username!r}.") from None
    user = User.objects.select_for_update().get(pk=named.pk)
    if not (user.is_staff and user.is_active):
        raise NotStaff(f"{user.username} is not active staff: only active staff sign in to the admin.")
    devices = TOTPDevice.objects.filter(user=user)
    if devices.exists():
        if not replace:
            raise OtpDeviceExists(f"{user.username} already has an authenticator device; use --replace for a new one.")
        devices.delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
