from __future__ import annotations

from django.contrib import admin

from ledger.models import Transaction


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "transaction_type", "status", "amount", "currency", "sender", "receiver", "created_at"]
    list_filter = ["transaction_type", "status"]
    list_select_related = ["sender", "receiver"]
    actions = None

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
