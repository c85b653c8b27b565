from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from wallets.models import Profile, User, Wallet


@admin.register(User)
class PaylaneUserAdmin(UserAdmin):
    pass


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "mobile_number"]
    search_fields = ["user__username", "mobile_number"]
    readonly_fields = ["user", "mobile_number"]


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "balance", "version", "daily_limit", "created_at"]
    search_fields = ["user__username", "user__profile__mobile_number"]
    list_select_related = ["user"]
    readonly_fields = ["user", "balance", "version", "spent_on", "spent_today", "created_at"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
