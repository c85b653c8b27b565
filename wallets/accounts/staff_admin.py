"""The admin's pages for its own sign-ins: the sign-in record and the staff's authenticator devices.

* Admin sign-ins: read-only for everyone, superusers included (the ledger's
  ``ReadOnlyAdminMixin``; the table's triggers refuse a change anyway).
* TOTP devices: django-otp's own admin shows and edits each device's secret
  key; this one lists devices without their keys and offers no add or change.
  Enrolment is ``manage.py admin_otp_add`` (which shows the key once, to the
  operator); deleting a device here (a lost phone) is allowed to those with
  Django's delete permission.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ledger.admin import ReadOnlyAdminMixin
from wallets.models import AdminSignIn


@admin.register(AdminSignIn)
class AdminSignInAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    list_display = ["created_at", "username", "user", "succeeded", "reason", "otp_verified", "client_ip"]
    list_filter = ["succeeded", "reason", "otp_verified", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["=username", "=client_ip"]
    search_help_text = "Username as typed (any case) or client address, exactly."
    date_hierarchy = "created_at"
    show_full_result_count = False


# Never the key: whoever reads it can make the codes.
DEVICE_FIELDS = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")


class DeviceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = DEVICE_FIELDS
    list_select_related = ["user"]
    search_fields = ["=user__username"]
    fields = DEVICE_FIELDS
    readonly_fields = DEVICE_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# django-otp's plugin registers its own admin first (it comes before wallets in INSTALLED_APPS).
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, DeviceAdmin)
