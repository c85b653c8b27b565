"""The ledger in Django admin: read-only for everyone, searchable, exportable, auditable per user."""

from __future__ import annotations

import csv
import io
import threading
import warnings
from collections.abc import Callable
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.sites import site
from django.db import connection
from django.template.response import TemplateResponse
from django.test import AsyncClient, Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledger.admin import TransactionAdmin
from ledger.models import DailyLimitChange, Seal, Transaction
from tests.racing import race
from wallets import services
from wallets.models import User, Wallet

CHANGELIST = "admin:ledger_transaction_changelist"


@pytest.fixture
def ledger(alice: User, bob: User) -> list[Transaction]:
    sent = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="25")
    back = services.transfer_create(sender=bob, to_user_id=alice.pk, amount="5")
    return [Transaction.objects.get(receiver=alice, sender=None), sent, back]


def listed(client: Client, **params: str) -> list[int]:
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return [entry.pk for entry in response.context["cl"].result_list]


@pytest.mark.parametrize("model", [Transaction, Seal, DailyLimitChange])
def test_no_one_may_add_change_or_delete_audit_rows_not_even_a_superuser(admin_client: Client, model: type) -> None:
    model_admin = site._registry[model]
    request = admin_client.get(reverse(CHANGELIST)).wsgi_request
    assert request.user.is_superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.get_actions(request) == {}


def test_the_ledger_change_page_refuses_a_post(admin_client: Client, ledger: list[Transaction]) -> None:
    entry = ledger[1]
    url = reverse("admin:ledger_transaction_change", args=[entry.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"amount": "1.00"})
    assert response.status_code == 403
    assert admin_client.post(reverse("admin:ledger_transaction_delete", args=[entry.pk])).status_code == 403
    assert Transaction.objects.get(pk=entry.pk).amount == Decimal("25.00")


def test_the_list_runs_a_fixed_number_of_queries_however_many_rows(
    admin_client: Client, alice: User, bob: User
) -> None:
    for amount in ("1", "2"):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    with CaptureQueriesContext(connection) as few:
        listed(admin_client)
    for amount in ("3", "4", "5", "6"):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    with CaptureQueriesContext(connection) as more:
        listed(admin_client)
    assert len(more) == len(few)


def test_the_list_is_configured_for_a_huge_table() -> None:
    ledger_admin = site._registry[Transaction]
    assert isinstance(ledger_admin, TransactionAdmin)
    assert ledger_admin.show_full_result_count is False
    assert ledger_admin.date_hierarchy == "created_at"
    assert set(ledger_admin.list_select_related) == {"sender", "receiver"}


def test_search_finds_rows_by_username_mobile_number_and_id(
    admin_client: Client, ledger: list[Transaction], alice: User, bob: User
) -> None:
    top_up, sent, back = ledger
    assert set(listed(admin_client, q="ALICE")) == {top_up.pk, sent.pk, back.pk}
    assert set(listed(admin_client, q="98123 45678")) == {sent.pk, back.pk}  # bob's number, written locally
    assert listed(admin_client, q=str(back.pk)) == [back.pk]
    assert listed(admin_client, q="nobody") == []


def test_filters_by_type_status_and_date(admin_client: Client, ledger: list[Transaction], alice: User) -> None:
    with pytest.raises(services.InsufficientFunds):
        services.transfer_create(sender=alice, to_user_id=ledger[1].receiver_id, amount="99999")
    assert listed(admin_client, transaction_type__exact="ADD_MONEY") == [ledger[0].pk]
    assert len(listed(admin_client, status__exact="FAILED")) == 1
    today = ledger[0].created_at
    assert len(listed(admin_client, created_at__year=str(today.year))) == 4


def test_export_streams_the_filtered_list_as_csv(admin_client: Client, ledger: list[Transaction]) -> None:
    response = admin_client.get(reverse("admin:ledger_transaction_export"), {"transaction_type__exact": "TRANSFER"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0][0] == "id"
    assert [int(r[0]) for r in rows[1:]] == [ledger[1].pk, ledger[2].pk]


def test_the_changelist_links_to_the_export_of_what_it_shows(admin_client: Client, ledger: list[Transaction]) -> None:
    page = admin_client.get(reverse(CHANGELIST), {"status__exact": "SUCCESS"}).content.decode()
    assert reverse("admin:ledger_transaction_export") + "?status__exact=SUCCESS" in page


def test_staff_without_view_permission_get_neither_export_nor_audit(
    client: Client, alice: User, register: Callable[..., User]
) -> None:
    clerk = register("clerk")
    User.objects.filter(pk=clerk.pk).update(is_staff=True)
    client.force_login(User.objects.get(pk=clerk.pk))
    assert client.get(reverse("admin:ledger_transaction_export")).status_code == 403
    assert client.get(reverse("admin:ledger_transaction_user_audit", args=[alice.pk])).status_code == 403


def test_the_user_audit_page_shows_wallet_ledger_and_replay_side_by_side(
    admin_client: Client, ledger: list[Transaction], alice: User
) -> None:
    response = admin_client.get(reverse("admin:ledger_transaction_user_audit", args=[alice.pk]))
    assert response.status_code == 200
    assert response.context["replay"].balance == Decimal("980.00")
    assert response.context["balance_matches"] is True
    rows = response.context["rows"]
    assert [r["entry"].pk for r in rows] == [e.pk for e in reversed(ledger)]
    assert all(r["recorded"] == r["replayed"] for r in rows)
    assert b"matches" in response.content


def test_the_user_audit_page_flags_a_balance_the_ledger_does_not_explain(
    admin_client: Client, ledger: list[Transaction], alice: User
) -> None:
    Wallet.objects.filter(user=alice).update(balance=Decimal("5000.00"))
    response = admin_client.get(reverse("admin:ledger_transaction_user_audit", args=[alice.pk]))
    assert response.context["balance_matches"] is False
    assert b"DOES NOT MATCH" in response.content


@pytest.mark.postgres
def test_the_unfiltered_list_uses_the_planner_estimate_instead_of_counting(
    admin_client: Client, ledger: list[Transaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ledger.admin.ESTIMATE_ABOVE_ROWS", 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_transaction")
    with CaptureQueriesContext(connection) as unfiltered:
        listed(admin_client)
    with CaptureQueriesContext(connection) as filtered:
        listed(admin_client, status__exact="SUCCESS")

    def ledger_counts(queries: CaptureQueriesContext) -> int:
        return sum("COUNT(*)" in q["sql"] and '"ledger_transaction"' in q["sql"] for q in queries.captured_queries)

    assert ledger_counts(unfiltered) == 0
    assert ledger_counts(filtered) == 1


def test_export_under_asgi_streams_in_batches_without_reading_everything_first(
    admin_user: User, ledger: list[Transaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django reads a *synchronous* iterator to the end (with a warning) before
    # serving it under ASGI; the export hands it an asynchronous one instead.
    client = AsyncClient()
    client.force_login(admin_user)

    async def fetch() -> tuple[bool, list[bytes]]:
        response = await client.get(reverse("admin:ledger_transaction_export"))
        return response.is_async, [chunk async for chunk in response.streaming_content]  # type: ignore[attr-defined]

    monkeypatch.setattr("ledger.export.ASYNC_BATCH_LINES", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        is_async, chunks = async_to_sync(fetch)()
    assert is_async
    assert len(chunks) == 2  # header + 3 rows, two lines at a time
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert [int(r[0]) for r in rows[1:]] == [e.pk for e in ledger]


@pytest.mark.parametrize("query", ["created_at__gte=not-a-date", "id__in=a,b", "nosuchfield=1"])
def test_the_csv_export_with_a_filter_it_cannot_apply_is_a_400_not_a_500(
    admin_client: Client, alice: User, query: str
) -> None:
    response = admin_client.get(f"/admin/ledger/transaction/export.csv?{query}")
    assert response.status_code == 400


# --- The audit page reads one snapshot --------------------------------------------------------


def audit_page(admin_user: User, user: User) -> TemplateResponse:
    """The per-user audit page, rendered as the response machinery would render it."""
    request = RequestFactory().get(reverse("admin:ledger_transaction_user_audit", args=[user.pk]))
    request.user = admin_user
    response = site._registry[Transaction].user_audit_view(request, user.pk)
    assert isinstance(response, TemplateResponse)
    response.render()
    return response


@pytest.mark.django_db(transaction=True)
def test_everything_the_user_audit_page_shows_is_read_inside_one_transaction(
    admin_user: User, ledger: list[Transaction], alice: User
) -> None:
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=Decimal("70.00"), actor=admin_user)
    outside: list[str] = []

    def watch(execute: Callable[..., object], sql: str, params: object, many: bool, context: object) -> object:
        if not connection.in_atomic_block and not sql.startswith("BEGIN"):  # SQLite's BEGIN opens the block
            outside.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        page = audit_page(admin_user, alice).content.decode()
    assert outside == []
    assert "70.00" in page  # the daily-limit history, read by the template itself
    assert "DOES NOT MATCH" not in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_user_audit_page_never_cries_wolf_while_the_users_transfers_commit(
    admin_user: User, alice: User, bob: User
) -> None:
    done = threading.Event()

    def pay() -> int:
        paid = 0
        while not done.is_set() and paid < 2000:
            sender, receiver = (alice, bob) if paid % 2 else (bob, alice)
            try:
                services.transfer_create(sender=sender, to_user_id=receiver.pk, amount="1.00")
            except services.InsufficientFunds:
                pass
            paid += 1
        return paid

    def audit() -> list[str]:
        try:
            problems = []
            for _ in range(15):
                response = audit_page(admin_user, alice)
                assert response.context_data is not None
                if not response.context_data["balance_matches"]:
                    problems.append("balance")
                rows = response.context_data["rows"]
                # As the page flags them; a FAILED row that names alice as receiver records no figures for her.
                problems += [f"row {r['entry'].pk}" for r in rows if r["recorded"] not in (None, r["replayed"])]
            return problems
        finally:
            done.set()

    *paid, problems = race([pay, pay, audit])
    assert all(isinstance(n, int) and n > 0 for n in paid), paid
    assert problems == []
