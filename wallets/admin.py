from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_protect
from knox.models import AuthToken

from ledger.admin import ReadOnlyAdminMixin
from ledger.models import DailyLimitChange
from wallets import services
from wallets.accounts import credentials, tokens
from wallets.models import Profile, User, Wallet


@admin.register(User)
class PaylaneUserAdmin(UserAdmin):
    """Django's user admin; deactivating a user or changing their password ends their credentials.

    ``credentials_revoke_all`` deletes their API tokens and closes their
    sockets (4401); their page sessions fail Django's own checks.
    """

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Inside the admin's transaction: the message leaves only if the deactivation commits.
            credentials.credentials_revoke_all(user=obj)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        user = self.get_object(request, unquote(id))
        before = user.password if user is not None else None
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and user is not None:
            user.refresh_from_db(fields=["password"])
            if user.password != before:  # set, changed, or made unusable
                credentials.credentials_revoke_all(user=user)
        return response


# knox's own admin can mint a token for anyone and show it: replaced by this one.
admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """API tokens: who, since when, until when. The token itself is not stored, so not shown.

    Read-only; deleting one revokes it through ``tokens.token_revoke``, which
    also closes the sockets it opened. Staff cannot issue tokens here.
    """

    list_display = ["user", "token_key", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["=user__username"]
    fields = ("user", "token_key", "created", "expiry")
    readonly_fields = ("user", "token_key", "created", "expiry")
    ordering = ["-created"]

    @admin.display(description="starts with")
    def token_key(self, token: AuthToken) -> str:
        return f"{token.token_key}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: AuthToken) -> None:
        tokens.token_revoke(user=obj.user, credential=credentials.Credential("token", obj.digest))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AuthToken]) -> None:
        for token in queryset.select_related("user"):
            tokens.token_revoke(user=token.user, credential=credentials.Credential("token", token.digest))


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "mobile_number"]
    search_fields = ["user__username", "mobile_number"]
    readonly_fields = ["user", "mobile_number"]


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
