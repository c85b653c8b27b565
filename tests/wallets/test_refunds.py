"""Refunds: the receiver of a payment gives it back, as a new entry, never more than the payment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.jobs.support import work_off
from tests.support.sms import CODE_MESSAGE
from wallets import refunds, services
from wallets.accounts import sms
from wallets.errors import (
    AlreadyRefunded,
    InvalidAmount,
    InvalidNote,
    InvalidPin,
    NotRefundable,
    PinRequired,
    RefundInsufficientFunds,
    TransactionNotFound,
)
from wallets.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(alice: User, bob: User) -> Transaction:
    return services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00", note="lunch")


def test_the_receiver_refunds_all_that_is_left_by_default(alice: User, bob: User, payment: Transaction) -> None:
    refund = refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, note="sorry, wrong person")

    assert refund.transaction_type == Transaction.Type.REFUND
    assert refund.status == Transaction.Status.SUCCESS
    assert refund.amount == Decimal("100.00")
    assert (refund.sender_id, refund.receiver_id) == (bob.pk, alice.pk)
    assert refund.corrects_id == payment.pk
    assert refund.note == "sorry, wrong person"
    assert balance_of(alice) == Decimal("1000.00")
    assert balance_of(bob) == Decimal("0.00")
    call_command("verify_ledger", verbosity=0)


def test_partial_refunds_add_up_to_the_payment_and_no_more(alice: User, bob: User, payment: Transaction) -> None:
    refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="30.00")
    refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="50")

    with pytest.raises(InvalidAmount) as too_much:
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="20.01")
    assert "20.00" in too_much.value.message

    last = refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)
    assert last.amount == Decimal("20.00")
    with pytest.raises(AlreadyRefunded) as nothing_left:
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)
    assert (nothing_left.value.code, nothing_left.value.http_status) == ("already_refunded", 409)
    assert balance_of(alice) == Decimal("1000.00")
    call_command("verify_ledger", verbosity=0)


def test_only_the_receiver_may_refund(alice: User, bob: User, payment: Transaction) -> None:
    with pytest.raises(NotRefundable) as refused:
        refunds.refund_create(user=alice, transaction_id=payment.pk, pin=PIN)
    assert (refused.value.code, refused.value.http_status) == ("not_refundable", 403)


def test_a_stranger_is_told_there_is_no_such_entry(register: Callable[..., User], payment: Transaction) -> None:
    carol = register("carol")
    with pytest.raises(TransactionNotFound):
        refunds.refund_create(user=carol, transaction_id=payment.pk, pin=PIN)
    with pytest.raises(TransactionNotFound):
        refunds.refund_create(user=carol, transaction_id=10**12, pin=PIN)


def test_only_a_successful_transfer_can_be_refunded(alice: User, bob: User, payment: Transaction) -> None:
    top_up = Transaction.objects.get(receiver=alice, transaction_type=Transaction.Type.ADD_MONEY)
    with pytest.raises(NotRefundable):
        refunds.refund_create(user=alice, transaction_id=top_up.pk, pin=PIN)
    refund = refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="1.00")
    with pytest.raises(NotRefundable):  # a refund is not refunded back
        refunds.refund_create(user=alice, transaction_id=refund.pk, pin=PIN)


def test_a_failed_attempt_cannot_be_refunded(alice: User, bob: User) -> None:
    with pytest.raises(Exception) as failed:
        services.transfer_create(sender=bob, to_user_id=alice.pk, amount="5.00")
    entry = failed.value.transaction  # type: ignore[attr-defined]
    assert entry.status == Transaction.Status.FAILED
    with pytest.raises((NotRefundable, TransactionNotFound)):
        refunds.refund_create(user=alice, transaction_id=entry.pk, pin=PIN)


def test_a_payment_older_than_the_refund_window_is_not_refundable(
    settings,
    monkeypatch,
    alice: User,
    bob: User,  # type: ignore[no-untyped-def]
) -> None:
    settings.PAYLANE_REFUND_DAYS = 30
    start = timezone.now()
    old = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    monkeypatch.setattr("django.utils.timezone.now", lambda: start + timedelta(days=2))
    recent = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    monkeypatch.setattr("django.utils.timezone.now", lambda: start + timedelta(days=31))

    with pytest.raises(NotRefundable) as refused:
        refunds.refund_create(user=bob, transaction_id=old.pk, pin=PIN)
    assert "30 days" in refused.value.message
    assert refunds.refund_create(user=bob, transaction_id=recent.pk, pin=PIN).amount == Decimal("10.00")


def test_the_refunding_balance_must_cover_it_and_nothing_is_recorded(
    register: Callable[..., User], alice: User, bob: User, payment: Transaction
) -> None:
    carol = register("carol")
    services.transfer_create(sender=bob, to_user_id=carol.pk, amount="60.00")
    before = Transaction.objects.count()

    with pytest.raises(RefundInsufficientFunds) as refused:
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)
    assert (refused.value.code, refused.value.http_status) == ("insufficient_funds", 400)
    assert refused.value.transaction is None
    assert Transaction.objects.count() == before
    assert balance_of(bob) == Decimal("40.00")
    assert refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="40.00").amount == Decimal(
        "40.00"
    )


def test_a_refund_does_not_count_against_the_daily_limit(
    settings,
    alice: User,
    bob: User,
    payment: Transaction,  # type: ignore[no-untyped-def]
) -> None:
    bob.wallet.refresh_from_db()
    services.wallet_set_daily_limit(wallet=bob.wallet, daily_limit=Decimal("10.00"))
    refund = refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="60.00")
    assert refund.status == Transaction.Status.SUCCESS
    bob.wallet.refresh_from_db()
    assert bob.wallet.spent_today == Decimal("0.00")
    call_command("verify_ledger", verbosity=0)


def test_the_pin_is_asked_for_and_a_wrong_one_moves_nothing(bob: User, payment: Transaction) -> None:
    with pytest.raises(PinRequired):
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin="")
    with pytest.raises(InvalidPin):
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin="9731")
    assert not Transaction.objects.filter(transaction_type=Transaction.Type.REFUND).exists()
    assert balance_of(bob) == Decimal("100.00")


def test_bad_amount_and_note_are_refused_before_anything(bob: User, payment: Transaction) -> None:
    with pytest.raises(InvalidAmount):
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="-1")
    with pytest.raises(InvalidNote):
        refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, note="x" * 81)


def test_both_parties_are_told_after_commit(
    alice: User,
    bob: User,
    payment: Transaction,
    django_capture_on_commit_callbacks,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    pushed: list[Transaction] = []
    monkeypatch.setattr("realtime.notify.transaction_committed", pushed.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        refund = refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)
    assert pushed == []
    for callback in callbacks:
        callback()
    assert [e.pk for e in pushed] == [refund.pk]


def test_the_refund_is_offered_only_where_it_may_be_made(alice: User, bob: User, payment: Transaction) -> None:
    assert refunds.refund_is_offered(entry=payment, user_id=bob.pk)
    assert not refunds.refund_is_offered(entry=payment, user_id=alice.pk)


@pytest.mark.django_db(transaction=True)
def test_a_refund_alerts_both_parties_by_sms_after_commit(register: Callable[..., User]) -> None:
    payer = register("asha", mobile="+919800011111", balance="500.00", first_name="Asha", last_name="Verma")
    payee = register("ravi", mobile="+919800022222")
    payment = services.transfer_create(sender=payer, to_user_id=payee.pk, amount="100.00")
    work_off()
    sms.outbox.clear()

    refunds.refund_create(user=payee, transaction_id=payment.pk, pin=PIN, amount="40.00")
    assert not [m for m in sms.outbox if not m.body.startswith(CODE_MESSAGE)]  # queued, not sent
    work_off()

    to = {m.to: m.body for m in sms.outbox if not m.body.startswith(CODE_MESSAGE)}
    assert to["+919800022222"] == "Refunded INR 40.00 to As** V****. Balance INR 60.00."
    assert to["+919800011111"] == "Refund received: INR 40.00 from ra**. Balance INR 440.00."
