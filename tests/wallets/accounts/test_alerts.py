"""Security alerts by SMS: queued in the transaction of what they report (the outbox), sent by the worker.

Never before the commit, never for a rolled-back operation, never in the
operation's way, to verified numbers only, at least once and not twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from ledger.models import Transaction
from tests.conftest import PASSWORD, PIN, balance_of, verified
from tests.jobs.support import make_due, work_off
from tests.support.sms import CODE_MESSAGE
from wallets import services, transfer_function
from wallets.accounts import alerts, pins, registration, sms
from wallets.accounts.sms import BaseSmsBackend, SmsMessage
from wallets.accounts.tokens import token_issue
from wallets.errors import InsufficientFunds
from wallets.models import Profile, User

pytestmark = pytest.mark.django_db(transaction=True)  # the worker commits as it goes


def alerts_to(mobile: str) -> list[str]:
    """Every message the locmem backend sent to ``mobile`` but one-time codes."""
    return [m.body for m in sms.outbox if m.to == mobile and not m.body.startswith(CODE_MESSAGE)]


def queued() -> list[str]:
    return list(DBTaskResult.objects.order_by("enqueued_at").values_list("task_path", flat=True))


def person(username: str, mobile: str, *, first: str = "", last: str = "", balance: str | None = None) -> User:
    user = verified(
        registration.user_register(
            username=username, password=PASSWORD, mobile_number=mobile, first_name=first, last_name=last
        )
    )
    if balance is not None:
        services.wallet_top_up(user=user, amount=balance)
    return user


ASHA, RAVI = "+919800011111", "+919800022222"


@pytest.fixture
def asha() -> User:
    return person("asha", ASHA, first="Asha", last="Verma", balance="1000.00")


@pytest.fixture
def ravi() -> User:
    return person("ravi.k", RAVI, balance="5.00")


# --- Money -------------------------------------------------------------------------------------


# On PostgreSQL the one-statement transfer queues the row in its statement and the task composes the
# words when it runs; statement by statement (SQLite, or the switch off) they are composed at once.
@pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "steps"])
def test_a_transfer_queues_both_parties_alerts_with_its_entry_and_the_worker_sends_them(
    asha: User, ravi: User, one_statement: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer_function, "ONE_STATEMENT", one_statement)
    entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="120.50")
    assert queued() == ["wallets.accounts.alerts.transfer_alerts_deliver"]
    assert alerts_to(ASHA) == alerts_to(RAVI) == []  # the operation only wrote a row
    work_off()
    # The masked name is the one a payer sees before paying (wallets.accounts.payees).
    assert alerts_to(ASHA) == ["Paid INR 120.50 to ra****. Balance INR 879.50."]
    assert alerts_to(RAVI) == ["Received INR 120.50 from As** V****. Balance INR 125.50."]
    assert entry.status == Transaction.Status.SUCCESS


def test_a_transfers_alerts_are_composed_from_what_its_lock_read_without_a_query(
    asha: User, ravi: User, django_assert_num_queries: Any
) -> None:
    entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="1.00")
    DBTaskResult.objects.all().delete()
    with transaction.atomic(), django_assert_num_queries(1):  # the task row, nothing read
        alerts.transfer_alerts_enqueue(entry)


def test_an_entry_loaded_afresh_costs_one_query_and_alerts_only_verified_numbers(
    asha: User, ravi: User, django_assert_num_queries: Any
) -> None:
    entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="2.00")
    DBTaskResult.objects.all().delete()
    Profile.objects.filter(user=ravi).update(mobile_verified_at=None)
    afresh = Transaction.objects.get(pk=entry.pk)
    with transaction.atomic(), django_assert_num_queries(2):  # the parties, then the task row
        alerts.transfer_alerts_enqueue(afresh)
    work_off()
    assert alerts_to(ASHA) == ["Paid INR 2.00 to ra****. Balance INR 998.00."]
    assert alerts_to(RAVI) == []


def test_a_rolled_back_transfer_queues_and_sends_no_alert(asha: User, ravi: User) -> None:
    def crash_before_commit(entry: Transaction, refusal: object) -> None:
        raise RuntimeError("crash before COMMIT")  # after the alerts were queued, inside the transaction

    with pytest.raises(RuntimeError):
        services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="3.00", on_recorded=crash_before_commit)
    assert queued() == []
    work_off()
    assert alerts_to(ASHA) == alerts_to(RAVI) == []
    assert not Transaction.objects.filter(transaction_type=Transaction.Type.TRANSFER).exists()


def test_a_refused_transfer_and_a_top_up_queue_no_alert(asha: User, ravi: User) -> None:
    with pytest.raises(InsufficientFunds):  # recorded as a FAILED entry: nothing moved
        services.transfer_create(sender=ravi, to_user_id=asha.pk, amount="500.00")
    services.wallet_top_up(user=ravi, amount="10.00")
    assert queued() == []


def test_a_task_run_twice_sends_each_alert_once(asha: User, ravi: User) -> None:
    services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="6.00")
    (task_row,) = DBTaskResult.objects.all()
    # What a worker presumed dead and a second worker both running it would do.
    # (Queued by the one-statement transfer, the row has no messages: the task composes them.)
    alerts.transfer_alerts_deliver.call(**task_row.args_kwargs["kwargs"])
    work_off()
    assert len(alerts_to(ASHA)) == len(alerts_to(RAVI)) == 1


# --- Credentials -------------------------------------------------------------------------------


def test_a_new_api_token_is_alerted_after_its_commit(asha: User) -> None:
    token = token_issue(user=asha)
    assert alerts_to(ASHA) == []
    work_off()
    (alert,) = alerts_to(ASHA)
    assert "new Paylane API token" in alert and token not in alert


def test_an_unverified_number_gets_no_alert(db: None) -> None:
    newcomer = registration.user_register(username="nia", password=PASSWORD, mobile_number="+919800033333")
    token_issue(user=newcomer)
    with transaction.atomic():
        alerts.password_changed(newcomer)
    assert queued() == []


def test_the_pin_service_queues_set_changed_and_locked_with_the_change(asha: User, settings: Any) -> None:
    settings.PAYLANE_PIN_FAILURE_LIMIT = 2
    pins.pin_set(user=asha, pin=PIN)
    pins.pin_set(user=asha, pin="8051", current_pin=PIN)
    for _ in range(2):
        pins.pin_try(user_id=asha.pk, pin="1357")
    work_off()
    texts = [body.split(". Not you?")[0] for body in alerts_to(ASHA)]
    assert "Your Paylane payment PIN was changed" in texts
    assert any(t.startswith("Your Paylane payments are locked until") for t in texts)


def test_the_pin_alert_texts_say_set_changed_and_locked_until_when(asha: User) -> None:
    until = timezone.make_aware(datetime(2026, 11, 25, 14, 35))
    with transaction.atomic():
        alerts.pin_set(asha)
        alerts.pin_changed(asha)
        alerts.pin_locked(asha, until=until)
        alerts.pin_locked(asha)
    work_off()
    assert sorted(body.split(". Not you?")[0] for body in alerts_to(ASHA)) == sorted(
        [
            "Your Paylane payment PIN was set",
            "Your Paylane payment PIN was changed",
            "Your Paylane payments are locked until 25 Nov 14:35 after too many wrong PINs",
            "Your Paylane payments are locked after too many wrong PINs",
        ]
    )


def test_an_alert_queued_in_a_rolled_back_transaction_is_never_sent(asha: User) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        alerts.pin_changed(asha)
        raise RuntimeError("the PIN change failed")
    work_off()
    assert alerts_to(ASHA) == []


# --- A backend that fails or hangs -------------------------------------------------------------


class BrokenBackend(BaseSmsBackend):
    calls = 0

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        BrokenBackend.calls += 1
        if BrokenBackend.calls <= 2:
            raise sms.SmsError(f"the provider refused {messages[0].body!r} to {messages[0].to}")
        sms.outbox.extend(messages)
        return len(messages)


class HangingBackend(BaseSmsBackend):
    entered = threading.Event()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        HangingBackend.entered.set()
        raise TimeoutError("hung")


def test_a_failing_sms_backend_never_fails_the_transfer_and_its_alerts_are_retried_until_sent(
    asha: User, ravi: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_alerts.BrokenBackend"
    BrokenBackend.calls = 0
    entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="4.00")
    assert entry.status == Transaction.Status.SUCCESS and balance_of(asha) == Decimal("996.00")
    for _ in range(3):  # fails, fails, then goes: each retry after its backoff
        work_off()
        for row in DBTaskResult.objects.filter(status="READY"):
            make_due(str(row.pk))
    assert alerts_to(ASHA) == ["Paid INR 4.00 to ra****. Balance INR 996.00."]
    assert len(alerts_to(RAVI)) == 1
    # The provider's error named the number and the text: neither is kept in the log or the task's row.
    stored = json.dumps(list(DBTaskResult.objects.values("traceback", "exception_class_path")))
    for private in (ASHA, RAVI, "996.00", "Paid INR"):
        assert private not in caplog.text and private not in stored


def test_a_hanging_sms_backend_is_never_called_by_the_operation(asha: User, ravi: User, settings: Any) -> None:
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_alerts.HangingBackend"
    HangingBackend.entered.clear()
    entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="5.00")
    token_issue(user=asha)
    assert entry.status == Transaction.Status.SUCCESS
    assert not HangingBackend.entered.is_set()  # only the worker talks to the provider
    assert len(queued()) == 2


def test_alert_tasks_take_plain_json_and_no_secret(asha: User, ravi: User) -> None:
    token = token_issue(user=asha)
    services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="1.00")
    arguments = json.dumps(list(DBTaskResult.objects.values_list("args_kwargs", flat=True)))
    assert token not in arguments and PASSWORD not in arguments and PIN not in arguments
