"""Security alerts by SMS: after the commit of what they report, to verified numbers, never in the operation's way."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from ledger.models import Transaction
from project import tasks
from tests.conftest import PASSWORD, balance_of, verified
from tests.support.sms import CODE_MESSAGE
from wallets import services
from wallets.accounts import alerts, registration, sms
from wallets.accounts.names import display_name_masked, part_masked
from wallets.accounts.sms import BaseSmsBackend, SmsMessage
from wallets.accounts.tokens import token_issue
from wallets.errors import InsufficientFunds
from wallets.models import Profile, User

THREADS = {"default": {"BACKEND": "project.tasks.ThreadBackend", "OPTIONS": {"WORKERS": 1}}}


def alerts_to(mobile: str) -> list[str]:
    """Every message the locmem backend sent to ``mobile`` but one-time codes."""
    return [m.body for m in sms.outbox if m.to == mobile and not m.body.startswith(CODE_MESSAGE)]


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
def asha(db: None) -> User:
    return person("asha", ASHA, first="Asha", last="Verma", balance="1000.00")


@pytest.fixture
def ravi(db: None) -> User:
    return person("ravi.k", RAVI, balance="5.00")


# --- Masked names ------------------------------------------------------------------------------


def test_a_masked_name_keeps_two_letters_of_each_part_and_masks_the_rest_letter_for_letter() -> None:
    assert part_masked("Kumar") == "Ku***"
    assert part_masked("Bob") == "Bo*"
    assert part_masked("Al") == "A*"
    assert part_masked("K") == "K"
    assert display_name_masked(User(username="x", first_name="Asha  Rani", last_name="Verma")) == "As** Ra** Ve***"
    assert display_name_masked(User(username="ravi.k")) == "ra****"


# --- Money -------------------------------------------------------------------------------------


def test_a_transfer_alerts_both_parties_after_commit_with_amount_masked_name_and_balance(
    asha: User, ravi: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="120.50")
    assert alerts_to(ASHA) == alerts_to(RAVI) == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert alerts_to(ASHA) == ["Paid INR 120.50 to ra****. Balance INR 879.50."]
    assert alerts_to(RAVI) == ["Received INR 120.50 from As** Ve***. Balance INR 125.50."]


def test_a_transfers_alerts_are_composed_from_what_its_lock_read_without_a_query(
    asha: User, ravi: User, django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="1.00")
    with django_assert_num_queries(0):
        alerts.transfer_committed(entry)
    assert len(alerts_to(ASHA)) == len(alerts_to(RAVI)) == 1


def test_an_entry_loaded_afresh_is_alerted_with_one_query_and_only_to_verified_numbers(
    asha: User, ravi: User, django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="2.00")
    Profile.objects.filter(user=ravi).update(mobile_verified_at=None)
    afresh = Transaction.objects.get(pk=entry.pk)
    with django_assert_num_queries(1):
        alerts.transfer_committed(afresh)
    assert alerts_to(ASHA) == ["Paid INR 2.00 to ra****. Balance INR 998.00."]
    assert alerts_to(RAVI) == []


def test_a_rolled_back_transfer_sends_no_alert(
    asha: User, ravi: User, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_on_commit = transaction.on_commit

    def crash_once_the_alert_is_registered(callback: Callable[[], None], **kwargs: Any) -> None:
        real_on_commit(callback, **kwargs)
        if isinstance(callback, partial) and callback.func is alerts.transfer_committed:
            raise RuntimeError("crash before COMMIT")

    monkeypatch.setattr(transaction, "on_commit", crash_once_the_alert_is_registered)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="3.00")
    assert alerts_to(ASHA) == alerts_to(RAVI) == []
    assert not Transaction.objects.filter(transaction_type=Transaction.Type.TRANSFER).exists()


def test_a_refused_transfer_and_a_top_up_send_no_alert(
    asha: User, ravi: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InsufficientFunds):  # recorded as a FAILED entry: nothing moved
            services.transfer_create(sender=ravi, to_user_id=asha.pk, amount="500.00")
        services.wallet_top_up(user=ravi, amount="10.00")
    assert alerts_to(ASHA) == alerts_to(RAVI) == []


# --- Credentials -------------------------------------------------------------------------------


def test_a_new_api_token_alerts_the_verified_number_after_commit(
    asha: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        token = token_issue(user=asha)
    assert alerts_to(ASHA) == []
    for callback in callbacks:
        callback()
    (alert,) = alerts_to(ASHA)
    assert "new Paylane API token" in alert and token not in alert


def test_an_unverified_number_gets_no_alert(db: None, django_capture_on_commit_callbacks: Any) -> None:
    newcomer = registration.user_register(username="nia", password=PASSWORD, mobile_number="+919800033333")
    with django_capture_on_commit_callbacks(execute=True):
        token_issue(user=newcomer)
        with transaction.atomic():
            alerts.password_changed(newcomer)
    assert alerts_to("+919800033333") == []


def test_the_pin_alerts_say_set_changed_and_locked_until_when_after_commit(
    asha: User, django_capture_on_commit_callbacks: Any
) -> None:
    until = timezone.make_aware(datetime(2026, 11, 25, 14, 35))
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            alerts.pin_set(asha)
            assert alerts_to(ASHA) == []  # not before the commit
        alerts.pin_changed(asha)  # outside a transaction: at once
        alerts.pin_locked(asha, until=until)
        alerts.pin_locked(asha)
    assert [body.split(". Not you?")[0] for body in alerts_to(ASHA)] == [
        "Your Paylane payment PIN was set",
        "Your Paylane payment PIN was changed",
        "Your Paylane payments are locked until 25 Nov 14:35 after too many wrong PINs",
        "Your Paylane payments are locked after too many wrong PINs",
    ]


def test_an_alert_registered_in_a_rolled_back_transaction_is_never_sent(
    asha: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            alerts.pin_changed(asha)
            raise RuntimeError("the PIN change failed")
    assert alerts_to(ASHA) == []


# --- A backend that fails or hangs -------------------------------------------------------------


class BrokenBackend(BaseSmsBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        raise sms.SmsError(f"the provider refused {messages[0].body!r} to {messages[0].to}")


class HangingBackend(BaseSmsBackend):
    """Holds every send until the test releases it (at most 30 s: a send on the caller's thread fails the test)."""

    entered = threading.Event()
    release = threading.Event()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        HangingBackend.entered.set()
        if not HangingBackend.release.wait(30):
            raise TimeoutError("never released")
        sms.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def on_threads(settings: Any) -> Iterator[None]:
    """The service's own task backend: alerts run on a worker thread of this process."""
    settings.TASKS = THREADS
    HangingBackend.entered.clear()
    HangingBackend.release.clear()
    yield
    HangingBackend.release.set()
    assert tasks.flush(10)


def test_a_failing_sms_backend_never_fails_the_transfer_and_is_logged_without_number_or_text(
    asha: User, ravi: User, settings: Any, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_alerts.BrokenBackend"
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="4.00")
    assert entry.status == Transaction.Status.SUCCESS
    assert balance_of(asha) == Decimal("996.00")
    assert caplog.text.count("security alert (transfer) not sent: SmsError") == 2
    for private in (ASHA, RAVI, "996.00", "Paid INR"):
        assert private not in caplog.text


def test_a_hanging_sms_backend_never_holds_up_the_operation_the_alert_follows_later(
    asha: User, ravi: User, settings: Any, on_threads: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_alerts.HangingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        entry = services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="5.00")
    # The transfer answered with its alerts handed over; the worker is still inside the provider.
    assert entry.status == Transaction.Status.SUCCESS
    assert HangingBackend.entered.wait(10)
    assert alerts_to(ASHA) == alerts_to(RAVI) == []
    HangingBackend.release.set()
    assert tasks.flush(10)
    assert alerts_to(ASHA) == ["Paid INR 5.00 to ra****. Balance INR 995.00."]
    assert alerts_to(RAVI) == ["Received INR 5.00 from As** Ve***. Balance INR 10.00."]


def test_alert_tasks_take_plain_json_and_no_secret(
    asha: User, ravi: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    # What a job queue would store: the task's arguments.
    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(alerts, "alerts_deliver", SimpleNamespace(enqueue=lambda **kwargs: queued.append(kwargs)))
    with django_capture_on_commit_callbacks(execute=True):
        token = token_issue(user=asha)
        services.transfer_create(sender=asha, to_user_id=ravi.pk, amount="1.00")
    assert [q["kind"] for q in queued] == ["api_token", "transfer"]
    for q in queued:
        assert json.loads(json.dumps(q)) == q
        assert token not in json.dumps(q) and PASSWORD not in json.dumps(q)
