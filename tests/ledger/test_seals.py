"""Row hashes and hash-chained seals: computed on insert, sealed in blocks, never in a transfer's way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from ledger import hashing
from ledger.models import Seal, Transaction
from ledger.reconcile import ledger_reconcile
from ledger.services import Party, entry_append, ledger_seal, seal_block_append
from wallets import services
from wallets.models import User, Wallet


def stored(entry: Transaction) -> dict[str, object]:
    return Transaction.objects.filter(pk=entry.pk).values(*hashing.ROW_FIELDS).get()


def test_each_row_carries_the_sha256_of_its_stored_content(alice: User, bob: User) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="12.5")
    assert len(entry.row_hash) == 64
    assert hashing.row_hash_compute(stored(entry)) == entry.row_hash
    assert Transaction.objects.get(pk=entry.pk).row_hash == entry.row_hash


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", Decimal("12.51")), ("status", "FAILED"), ("receiver_id", 999), ("sender_version_after", 99)],
)
def test_changing_any_hashed_field_changes_the_row_hash(alice: User, bob: User, field: str, value: object) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="12.50")
    content = stored(entry)
    content[field] = value
    assert hashing.row_hash_compute(content) != entry.row_hash


def test_the_canonical_form_does_not_depend_on_decimal_spelling_or_time_zone(alice: User) -> None:
    content = stored(Transaction.objects.filter(receiver=alice).get())
    created_at = content["created_at"]
    assert isinstance(created_at, datetime)
    respelled = {**content, "amount": Decimal("1000"), "created_at": created_at.astimezone()}
    assert hashing.row_hash_compute(respelled) == hashing.row_hash_compute(content)


def test_seal_ledger_chains_blocks_and_later_runs_seal_only_new_rows(
    alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    for amount in ("1", "2", "3"):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    call_command("seal_ledger", "--max-rows", "2")
    first_ids = list(Transaction.objects.order_by("id").values_list("id", flat=True))
    seals = list(Seal.objects.order_by("id"))
    assert [s.row_count for s in seals] == [2, 2]
    assert seals[0].prev_hash == hashing.GENESIS_HASH
    assert seals[1].prev_hash == seals[0].seal_hash
    assert seals[1].after_id == seals[0].last_id
    assert seals[-1].last_id >= first_ids[-1]
    assert f"hash {seals[-1].seal_hash}" in capsys.readouterr().out

    latest = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="4")
    run = ledger_seal()
    assert [(s.after_id, s.row_count) for s in run.seals] == [(seals[-1].last_id, 1)]
    assert run.seals[0].last_id >= latest.pk
    assert ledger_seal().seals == []
    assert ledger_reconcile() == []


def test_a_second_seal_for_the_same_block_is_refused_by_the_database(alice: User) -> None:
    seal = ledger_seal().seals[0]
    with pytest.raises(Exception, match=r"(?i)unique"), transaction.atomic():
        Seal.objects.create(
            after_id=seal.after_id, last_id=seal.last_id, row_count=1, block_hash="x", prev_hash="y", seal_hash="z"
        )


# --- PostgreSQL: sealing and transfers run side by side ----------------------------------------


def _in_thread(target: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_transfer_commits_while_a_seal_transaction_is_open(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="100"), register("bob")
    sealing, release = threading.Event(), threading.Event()

    def seal_and_hold() -> None:
        with transaction.atomic():
            assert seal_block_append(horizon=10**9, max_rows=1000) is not None
            sealing.set()
            release.wait(10)

    sealer = _in_thread(seal_and_hold)
    assert sealing.wait(5)
    done = threading.Event()

    def pay() -> None:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5")
        done.set()

    transfer = _in_thread(pay)
    transfer.join(5)
    sealed_still_open = not release.is_set() and sealer.is_alive()
    release.set()
    sealer.join(5)
    assert done.is_set() and sealed_still_open
    assert Transaction.objects.filter(sender=alice, status="SUCCESS").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sealing_never_seals_past_a_smaller_id_that_has_not_committed(register: Callable[..., User]) -> None:
    alice, carol = register("alice", balance="100"), register("carol")
    inserted, release = threading.Event(), threading.Event()
    held: list[int] = []

    def top_up_and_hold() -> None:
        with transaction.atomic():
            wallet = Wallet.objects.select_for_update().get(user=carol)
            wallet.balance += Decimal("7.00")
            wallet.version += 1
            wallet.save(update_fields=["balance", "version"])
            held.append(
                entry_append(
                    transaction_type="ADD_MONEY",
                    amount=Decimal("7.00"),
                    receiver=Party(wallet.user_id, wallet.balance, wallet.version),
                ).pk
            )
            inserted.set()
            release.wait(10)

    writer = _in_thread(top_up_and_hold)
    assert inserted.wait(5)
    later = services.wallet_top_up(user=alice, amount="1")  # a larger id, committed first
    assert later.pk > held[0]
    run = ledger_seal(settle_timeout=0.2)
    assert run.unsettled == 1 and run.seals == []
    with pytest.raises(CommandError, match="still in flight") as refused:
        call_command("seal_ledger", "--settle-timeout", "0.1")
    assert refused.value.returncode == 2
    release.set()
    writer.join(5)
    run = ledger_seal(settle_timeout=5)
    assert run.unsettled == 0 and run.seals and run.seals[-1].last_id >= later.pk
    assert ledger_reconcile() == []


@pytest.mark.parametrize(("after_id", "last_id", "row_count"), [(5, 5, 1), (5, 4, 1), (0, 5, 0)])
def test_a_seal_with_an_empty_or_backwards_range_is_refused_by_the_database(
    db: None, after_id: int, last_id: int, row_count: int
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Seal.objects.create(
            after_id=after_id, last_id=last_id, row_count=row_count, block_hash="b", prev_hash="p", seal_hash="s"
        )
