from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_protect
from knox.models import AuthToken

from ledger import admin as ledger_admin
from ledger import selectors as ledger_selectors
from ledger.admin import ReadOnlyAdminMixin
from ledger.models import DailyLimitChange, Transaction
from ledger.money import ZERO
from ledger.replica import replica_reads
from ledger.snapshot import ledger_snapshot
from wallets import (
    request_admin,  # noqa: F401  (registers the money requests, read-only)
    selectors,
    services,
)
from wallets.accounts import (
    credentials,
    staff_admin,  # noqa: F401  (registers the admin sign-ins and TOTP devices)
    tokens,
)
from wallets.models import Profile, User, Wallet

AUDIT_PAGE_SIZE = 100


@admin.register(User)
class PaylaneUserAdmin(UserAdmin):
    """Users are deactivated (``is_active``), never deleted: their ledger rows name them for good.

    Deactivating a user or changing their password ends their credentials:
    ``credentials_revoke_all`` deletes their API tokens and closes their
    sockets (4401); their page sessions fail Django's own checks.
    """

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

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


class TransactionAdmin(ledger_admin.TransactionAdmin):
    """The ledger's list (``ledger.admin``, which knows nothing of wallets), with what the wallets add:
    search by username (any case) or mobile number, and a link from each party to their audit page."""

    search_help_text = "Exact ledger id, username (any case) or mobile number."

    def _user_link(self, user: Model) -> str:
        return format_html(
            '<a href="{}" title="audit this user">{}</a>',
            reverse("admin:ledger_transaction_user_audit", args=[user.pk]),
            str(user),
        )

    def user_ids_matching(self, term: str) -> list[int]:
        return selectors.user_ids_matching(term=term)

    def get_urls(self) -> list[URLPattern]:
        audit = path(
            "user/<int:user_id>/audit/",
            self.admin_site.admin_view(self.user_audit_view),
            name="ledger_transaction_user_audit",
        )
        return [audit, *super().get_urls()]

    def user_audit_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        """A user's wallet, their ledger (newest first, paged) and the replayed balance side by side.

        Everything the page shows is read in one snapshot (``ledger.snapshot``),
        the template's own lookups included: the response is rendered before
        the snapshot closes, not later by the response machinery. A transfer
        committing meanwhile is on the page in full or not at all, so it never
        shows as "DOES NOT MATCH".
        """
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        with replica_reads(), ledger_snapshot():  # on the replica when there is one (ledger.replica)
            response = TemplateResponse(
                request, "admin/ledger/user_audit.html", self._user_audit_context(request, user_id)
            )
            response.render()
        return response

    def _user_audit_context(self, request: HttpRequest, user_id: int) -> dict[str, object]:
        user = get_object_or_404(User, pk=user_id)
        wallet = get_object_or_404(Wallet, user=user)
        replay = ledger_selectors.wallet_replay(user_id=user.pk)
        page = Paginator(ledger_selectors.ledger_for_user(user_id=user.pk), AUDIT_PAGE_SIZE).get_page(
            request.GET.get("p")
        )
        entries = list(page.object_list)
        rows = []
        if entries:
            # Replayed balance after each row: the full replay minus everything newer than it.
            running = replay.balance - ledger_selectors.replay_signed_total(user_id=user.pk, after_id=entries[0].pk)
            for entry in entries:
                signed = _signed_amount(entry, user.pk)
                recorded = entry.sender_balance_after if entry.sender_id == user.pk else entry.receiver_balance_after
                rows.append({"entry": entry, "signed": signed, "recorded": recorded, "replayed": running})
                running -= signed
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Audit of {user.username}",
            "audited": user,
            "wallet": wallet,
            "replay": replay,
            "balance_matches": replay.balance == wallet.balance and replay.entries == wallet.version,
            "page": page,
            "rows": rows,
            "limit_changes": DailyLimitChange.objects.filter(wallet=wallet).select_related("changed_by")[:50],
        }


def _signed_amount(entry: Transaction, user_id: int) -> Decimal:
    """What the row did to ``user_id``'s balance: + received, - sent, 0 for a FAILED attempt."""
    if entry.status != Transaction.Status.SUCCESS:
        return ZERO
    return entry.amount if entry.receiver_id == user_id else -entry.amount


# The ledger app registers its list first (it comes before wallets in INSTALLED_APPS).
admin.site.unregister(Transaction)
admin.site.register(Transaction, TransactionAdmin)

# Staff reversals: the proposal and decision records, and the views that call the service.
from wallets import reversal_admin  # noqa: E402, F401
