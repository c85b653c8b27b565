from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_protect

from ledger.admin import ReadOnlyAdminMixin
from ledger.models import DailyLimitChange
from wallets import services
from wallets.models import Profile, User, Wallet


@admin.register(User)
class PaylaneUserAdmin(UserAdmin):
    """Users are deactivated (``is_active``), never deleted: their ledger rows name them for good."""

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: a profile is made by sign-up with its user and wallet, and never removed."""

    list_display = ["user", "mobile_number"]
    search_fields = ["user__username", "mobile_number"]
    readonly_fields = ["user", "mobile_number"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DailyLimitChangeInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    """The wallet's daily-limit history: append-only, shown, never edited here."""

    model = DailyLimitChange
    fk_name = "wallet"
    fields = ["changed_at", "changed_by", "old_limit", "new_limit"]
    readonly_fields = ["changed_at", "changed_by", "old_limit", "new_limit"]
    ordering = ["-id"]
    extra = 0
    can_delete = False


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Balances are shown and never editable; the daily-limit override is, through the service.

    Saving never calls ``Wallet.save()``: only ``wallet_set_daily_limit`` writes,
    under the wallet's lock and with its audit record, so a form loaded before a
    transfer cannot write a stale balance back.
    """

    list_display = ["user", "balance", "version", "daily_limit", "created_at", "audit_link"]
    actions = None
    search_fields = ["=user__username", "=user__profile__mobile_number"]
    list_select_related = ["user"]
    fields = ["user", "balance", "version", "daily_limit", "spent_on", "spent_today", "created_at"]
    readonly_fields = ["user", "balance", "version", "spent_on", "spent_today", "created_at"]
    inlines = [DailyLimitChangeInline]
    show_full_result_count = False

    @admin.display(description="audit")
    def audit_link(self, wallet: Wallet) -> str:
        return format_html(
            '<a href="{}">ledger audit</a>', reverse("admin:ledger_transaction_user_audit", args=[wallet.user_id])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @method_decorator(csrf_protect)
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # ModelAdmin wraps a POST in its own transaction; the service owns a
        # durable one, which cannot nest, so this admin does not open one.
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Wallet, form: ModelForm[Wallet], change: bool) -> None:
        if "daily_limit" in form.changed_data:
            services.wallet_set_daily_limit(
                wallet=obj,
                daily_limit=form.cleaned_data["daily_limit"],
                actor=request.user,  # type: ignore[arg-type]
            )
