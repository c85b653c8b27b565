"""Read-only audit views of the ledger, seals and daily-limit changes.

Nobody, superusers included, can add, change or delete here: the permission
hooks all say no and there are no actions (so no bulk delete). The ledger
list is built for a million rows: sender and receiver joined in the list query,
filters on indexed columns, search by exact id (an index lookup, never
``LIKE`` over joins), no full COUNT when unfiltered, a CSV export of what the
list shows. The wallets app extends this list with what only it knows (search
by username or mobile number, each user's audit page: ``wallets/admin.py``).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils.functional import cached_property

from ledger import selectors
from ledger.export import csv_lines, csv_streaming_content
from ledger.models import DailyLimitChange, Seal, Transaction
from ledger.replica import replica_alias

# Above this many rows (planner estimate), an unfiltered list shows the estimate instead of counting.
ESTIMATE_ABOVE_ROWS = 100_000


class ReadOnlyAdminMixin:
    """No add, change or delete for anyone. Each admin also sets ``actions = None``:
    None (not []) removes the site-wide actions too, delete_selected included."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class LedgerPaginator(Paginator):
    """Counts filtered lists; for the unfiltered ledger on PostgreSQL uses the planner's estimate."""

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            estimate = selectors.ledger_estimated_rows()
            if estimate is not None and estimate > ESTIMATE_ABOVE_ROWS:
                return estimate
        return super().count


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    list_display = [
        "id",
        "created_at",
        "transaction_type",
        "status",
        "amount",
        "currency",
        "sender_link",
        "receiver_link",
        "sender_balance_after",
        "receiver_balance_after",
    ]
    list_filter = ["transaction_type", "status", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["sender", "receiver"]
    search_fields = ["=id"]  # the search box; the lookup itself is get_search_results
    search_help_text = "Exact ledger id."
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = LedgerPaginator
    list_per_page = 100
    sortable_by = ["id", "created_at"]  # both indexed: no sort of the whole ledger

    @admin.display(description="sender", ordering="sender_id")
    def sender_link(self, entry: Transaction) -> str:
        return self._user_link(entry.sender) if entry.sender else "—"

    @admin.display(description="receiver", ordering="receiver_id")
    def receiver_link(self, entry: Transaction) -> str:
        return self._user_link(entry.receiver)

    def _user_link(self, user: Model) -> str:
        """How a party shows in the list (the wallets app links it to the user's audit page)."""
        return str(user)

    def user_ids_matching(self, term: str) -> list[int]:
        """Users a search term names (the wallets app knows usernames and mobile numbers)."""
        return []

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Transaction], search_term: str
    ) -> tuple[QuerySet[Transaction], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(pk__in=[])
        if term.isascii() and term.isdigit() and len(term) <= 18:
            match |= Q(pk=int(term))
        user_ids = self.user_ids_matching(term)
        if user_ids:
            match |= Q(sender_id__in=user_ids) | Q(receiver_id__in=user_ids)
        return queryset.filter(match), False

    def get_urls(self) -> list[URLPattern]:
        own = [path("export.csv", self.admin_site.admin_view(self.export_view), name="ledger_transaction_export")]
        return own + super().get_urls()

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The list as filtered and searched on screen, streamed as CSV in id order."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        try:
            # Streamed after the view has returned, so named here: the replica when there is one.
            rows = self.get_changelist_instance(request).get_queryset(request).order_by("id").using(replica_alias())
        except (IncorrectLookupParameters, ValidationError):
            # A filter value the list cannot apply (the changelist itself answers it with ?e=1).
            return HttpResponse("The export's filters are not valid; export from the filtered list.", status=400)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(csv_streaming_content(request, csv_lines(rows)), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="ledger-{stamp}.csv"'
        return response


@admin.register(Seal)
class SealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    list_display = ["id", "after_id", "last_id", "row_count", "seal_hash", "prev_hash", "created_at"]
    show_full_result_count = False


@admin.register(DailyLimitChange)
class DailyLimitChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    list_display = ["id", "wallet", "old_limit", "new_limit", "changed_by", "changed_at"]
    list_select_related = ["wallet__user", "changed_by"]
    search_fields = ["=wallet__user__username"]
    date_hierarchy = "changed_at"
