"""The transactional outbox: a side effect's task row is written with its ledger row, and delivered once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.models import Delivery
from jobs.outbox import outbox_enqueue
from ledger.models import Transaction
from tests.conftest import balance_of
from tests.jobs.support import work_off
from tests.jobs.tasks import receipt_send
from tests.support.sms import messages_to
from wallets import services
from wallets.errors import WalletError
from wallets.models import User

RECEIPT = "tests.jobs.tasks.receipt_send"


def test_the_task_row_is_written_inside_the_money_transaction_not_after_its_commit(
    alice: User, bob: User, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    seen_inside: list[int] = []

    def on_recorded(entry: Transaction, refusal: WalletError | None) -> None:
        outbox_enqueue(receipt_send, entry_id=entry.pk, to=bob.profile.mobile_number)
        # Still inside the transfer's transaction, before COMMIT: the row is already there.
        seen_inside.append(DBTaskResult.objects.filter(args_kwargs__kwargs__entry_id=entry.pk).count())

    # A process that died right after COMMIT runs none of its on_commit callbacks.
    with django_capture_on_commit_callbacks(execute=False):
        entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="25.00", on_recorded=on_recorded)

    assert seen_inside == [1]
    (task,) = DBTaskResult.objects.filter(task_path=RECEIPT)
    assert task.status == TaskResultStatus.READY
    assert task.task_path == "tests.jobs.tasks.receipt_send"
    assert task.args_kwargs["kwargs"] == {"entry_id": entry.pk, "to": bob.profile.mobile_number}


@pytest.mark.django_db(transaction=True)
def test_a_movement_that_rolls_back_leaves_no_task_row(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="100.00"), register("bob")
    ledger_rows, task_rows = Transaction.objects.count(), DBTaskResult.objects.count()

    def crash_before_commit(entry: Transaction, refusal: WalletError | None) -> None:
        outbox_enqueue(receipt_send, entry_id=entry.pk, to=bob.profile.mobile_number)
        raise RuntimeError("the process fails before COMMIT")

    with pytest.raises(RuntimeError):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="25.00", on_recorded=crash_before_commit)

    assert DBTaskResult.objects.count() == task_rows  # neither the receipt nor the transfer's alerts
    assert Transaction.objects.count() == ledger_rows
    assert balance_of(alice) == 100
    work_off()
    assert not [body for body in messages_to(bob.profile.mobile_number or "") if "receipt" in body]


@pytest.mark.django_db(transaction=True)
def test_outbox_enqueue_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox_enqueue(receipt_send, entry_id=1, to="+919812345678")
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_a_committed_side_effect_once_however_often_its_task_runs(
    register: Callable[..., User],
) -> None:
    alice, bob = register("alice", balance="100.00"), register("bob")
    mobile = bob.profile.mobile_number
    entry = services.transfer_create(
        sender=alice,
        to_user_id=bob.pk,
        amount="25.00",
        on_recorded=lambda entry, refusal: outbox_enqueue(receipt_send, entry_id=entry.pk, to=mobile),
    )
    receipt = f"Paylane receipt for ledger entry {entry.pk}."

    work_off()

    (task,) = DBTaskResult.objects.filter(task_path=RECEIPT)
    assert task.status == TaskResultStatus.SUCCESSFUL and task.return_value is True
    assert receipt in messages_to(mobile)
    # The same side effect again (a task run twice, or enqueued twice): nothing more is sent.
    with transaction.atomic():
        outbox_enqueue(receipt_send, entry_id=entry.pk, to=mobile)
    work_off()
    assert messages_to(mobile).count(receipt) == 1
    assert DBTaskResult.objects.filter(task_path=RECEIPT, status=TaskResultStatus.SUCCESSFUL).count() == 2
    assert list(Delivery.objects.filter(key__startswith="test-receipt:").values_list("key", flat=True)) == [
        f"test-receipt:{entry.pk}"
    ]
