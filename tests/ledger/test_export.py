"""CSV export: one row function for the command and the admin, streamed, formula-safe."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ledger.export import CSV_HEADER, csv_cell, csv_lines
from ledger.models import Transaction
from wallets import services
from wallets.models import User


def export(capsys: pytest.CaptureFixture[str], *args: str) -> list[list[str]]:
    call_command("export_ledger", *args)
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_gets_a_leading_quote(prefix: str) -> None:
    assert csv_cell(f"{prefix}HYPERLINK(1)") == f"'{prefix}HYPERLINK(1)"


def test_ordinary_cells_are_left_alone() -> None:
    assert [csv_cell(v) for v in ("alice", 12, None, "a=b")] == ["alice", "12", "", "a=b"]


def test_export_ledger_writes_a_header_and_every_row_in_id_order(
    register: Callable[..., User], capsys: pytest.CaptureFixture[str]
) -> None:
    evil = register("@evil", balance="50")
    bob = register("bob")
    entry = services.transfer_create(sender=evil, to_user_id=bob.pk, amount="12.50")
    rows = export(capsys)
    assert rows[0] == CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == list(Transaction.objects.order_by("id").values_list("id", flat=True))
    last = dict(zip(CSV_HEADER, rows[-1], strict=True))
    assert last["id"] == str(entry.pk)
    assert last["amount"] == "12.50"
    assert last["sender_username"] == "'@evil"
    assert last["row_hash"] == entry.row_hash


def test_export_ledger_since_and_until_are_inclusive_local_days(
    alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    today = timezone.localdate()
    assert len(export(capsys, "--since", today.isoformat(), "--until", today.isoformat())) == 2
    assert len(export(capsys, "--since", (today + timedelta(days=1)).isoformat())) == 1  # the header only
    assert len(export(capsys, "--until", (today - timedelta(days=1)).isoformat())) == 1


def test_export_ledger_refuses_a_malformed_date(db: None) -> None:
    with pytest.raises(CommandError, match="not a date"):
        call_command("export_ledger", "--since", "24/11/2026")


def test_csv_lines_reads_the_queryset_in_chunks_not_all_at_once(
    alice: User, bob: User, django_assert_max_num_queries: Callable[..., object]
) -> None:
    for amount in ("1", "2", "3", "4"):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    lines = csv_lines(Transaction.objects.select_related("sender", "receiver").order_by("id"), chunk_size=2)
    assert next(lines).startswith("id,")
    assert next(lines).split(",")[0] == str(Transaction.objects.order_by("id").values_list("id", flat=True)[0])
    assert len(list(lines)) == 4
