"""Money requests in the admin: read-only (every change goes through ``wallets.money_requests``)."""

from __future__ import annotations

from django.contrib import admin

from ledger.admin import ReadOnlyAdminMixin
from wallets.request_models import MoneyRequest, RequestMute


@admin.register(MoneyRequest)
class MoneyRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "requester", "payer", "amount", "status", "created_at", "expires_at", "paid_entry"]
    list_filter = ["status"]
    list_select_related = ["requester", "payer"]
    raw_id_fields = ["requester", "payer", "paid_entry"]
    actions = None


@admin.register(RequestMute)
class RequestMuteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "payer", "requester", "created_at"]
    list_select_related = ["payer", "requester"]
    raw_id_fields = ["payer", "requester"]
    actions = None
