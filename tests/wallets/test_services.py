from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.models import Transaction
from realtime import notify
from tests.conftest import balance_of
from wallets import selectors, services
from wallets.errors import (
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    InvalidMobile,
    RecipientNotFound,
    SelfTransfer,
    TopUpLimitExceeded,
    ValidationFailed,
    WalletError,
)
from wallets.models import User, Wallet


@pytest.fixture
def pushed(monkeypatch: pytest.MonkeyPatch) -> list[Transaction]:
    """The ledger entries handed to the real-time seam, in order."""
    entries: list[Transaction] = []
    monkeypatch.setattr(notify, "transaction_committed", entries.append)
    return entries


def ledger_snapshot() -> list[tuple[object, ...]]:
    return list(Transaction.objects.order_by("id").values_list("id", "status", "amount"))


def wallets_snapshot() -> list[tuple[object, ...]]:
    return list(Wallet.objects.order_by("id").values_list("id", "balance", "version", "spent_today"))


# --- Top-ups -------------------------------------------------------------------------------


def test_top_up_adds_money_and_records_add_money_with_no_sender(bob: User) -> None:
    entry = services.wallet_top_up(user=bob, amount="250.50")

    assert balance_of(bob) == Decimal("250.50")
    assert entry.transaction_type == "ADD_MONEY"
    assert entry.status == "SUCCESS"
    assert entry.sender_id is None
    assert entry.receiver_id == bob.pk
    assert entry.receiver_balance_after == Decimal("250.50")
    assert entry.receiver_version_after == 1
    assert entry.currency == "INR"


def test_top_up_over_the_per_operation_maximum_is_refused_and_records_nothing(bob: User, settings) -> None:
    settings.PAYLANE_TOP_UP_MAX = Decimal("500.00")
    with pytest.raises(TopUpLimitExceeded):
        services.wallet_top_up(user=bob, amount="500.01")
    assert balance_of(bob) == 0
    assert not Transaction.objects.exists()
    services.wallet_top_up(user=bob, amount="500.00")
    assert balance_of(bob) == Decimal("500.00")


def test_top_up_that_would_overflow_the_balance_column_is_refused(bob: User) -> None:
    Wallet.objects.filter(user=bob).update(balance=Decimal("999999999999.00"))
    with pytest.raises(TopUpLimitExceeded):
        services.wallet_top_up(user=bob, amount="1.00")
    assert not Transaction.objects.exists()


# --- Transfers -------------------------------------------------------------------------------


def test_transfer_by_user_id_moves_money_and_records_both_parties(alice: User, bob: User) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="300.25")

    assert balance_of(alice) == Decimal("699.75")
    assert balance_of(bob) == Decimal("300.25")
    assert (entry.transaction_type, entry.status) == ("TRANSFER", "SUCCESS")
    assert (entry.sender_id, entry.receiver_id) == (alice.pk, bob.pk)
    assert entry.sender_balance_after == Decimal("699.75")
    assert entry.receiver_balance_after == Decimal("300.25")
    assert entry.sender_version_after == 2  # the top-up, then this transfer
    assert entry.receiver_version_after == 1


def test_transfer_accepts_the_user_id_as_a_string_of_digits(alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_user_id=f" {bob.pk} ", amount="1")
    assert balance_of(bob) == Decimal("1.00")


def test_pay_by_mobile_number_in_any_spelling(alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_mobile="098123 45678", amount="10")
    assert balance_of(bob) == Decimal("10.00")


def test_the_whole_balance_can_be_sent(alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1000.00")
    assert balance_of(alice) == 0
    assert balance_of(bob) == Decimal("1000.00")


def test_paying_yourself_is_refused_and_never_creates_money(alice: User) -> None:
    before = (wallets_snapshot(), ledger_snapshot())
    with pytest.raises(SelfTransfer):
        services.transfer_create(sender=alice, to_user_id=alice.pk, amount="100")
    with pytest.raises(SelfTransfer):
        services.transfer_create(sender=alice, to_mobile="+919876543210", amount="100")
    assert (wallets_snapshot(), ledger_snapshot()) == before


@pytest.mark.parametrize(
    ("recipient", "error"),
    [
        ({"to_user_id": 999999}, RecipientNotFound),
        ({"to_user_id": "abc"}, ValidationFailed),
        ({"to_user_id": "-3"}, ValidationFailed),
        ({"to_user_id": True}, ValidationFailed),
        ({"to_user_id": 1.0}, ValidationFailed),
        ({"to_user_id": "9" * 30}, ValidationFailed),
        ({"to_mobile": "+919000000000"}, RecipientNotFound),
        ({"to_mobile": "call me"}, InvalidMobile),
        ({}, ValidationFailed),
    ],
)
def test_unknown_or_malformed_recipients_are_refused_and_record_nothing(
    alice: User, bob: User, recipient: dict[str, object], error: type[WalletError]
) -> None:
    before = (wallets_snapshot(), ledger_snapshot())
    with pytest.raises(error):
        services.transfer_create(sender=alice, amount="5", **recipient)  # type: ignore[arg-type]
    assert (wallets_snapshot(), ledger_snapshot()) == before


def test_naming_two_recipients_is_refused(alice: User, bob: User) -> None:
    with pytest.raises(ValidationFailed):
        services.transfer_create(sender=alice, to_user_id=bob.pk, to_mobile="+919812345678", amount="5")


def test_deactivated_users_cannot_receive(alice: User, bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(is_active=False)
    with pytest.raises(RecipientNotFound):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5")
    with pytest.raises(RecipientNotFound):
        services.transfer_create(sender=alice, to_mobile="+919812345678", amount="5")
    assert balance_of(bob) == 0


@pytest.mark.parametrize("amount", ["0", "-1", "NaN", "Infinity", "1e2", "0.001", "1" * 13, 12.5])
def test_bad_amounts_are_refused_and_change_nothing(alice: User, bob: User, amount: object) -> None:
    before = (wallets_snapshot(), ledger_snapshot())
    with pytest.raises(InvalidAmount):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    with pytest.raises(InvalidAmount):
        services.wallet_top_up(user=bob, amount=amount)
    assert (wallets_snapshot(), ledger_snapshot()) == before


def test_a_transfer_that_would_overflow_the_recipient_is_refused(alice: User, bob: User) -> None:
    Wallet.objects.filter(user=bob).update(balance=Decimal("999999999999.99"))
    before = (wallets_snapshot(), ledger_snapshot())
    with pytest.raises(InvalidAmount):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="0.01")
    assert (wallets_snapshot(), ledger_snapshot()) == before


# --- Refusals recorded as FAILED -------------------------------------------------------------


def test_insufficient_funds_is_recorded_as_failed_and_moves_nothing(alice: User, bob: User) -> None:
    balances = (balance_of(alice), balance_of(bob))
    with pytest.raises(InsufficientFunds) as refused:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1000.01")

    failed = refused.value.transaction
    assert failed is not None
    assert (failed.status, failed.failure_reason) == ("FAILED", "insufficient_funds")
    assert failed.sender_balance_after == Decimal("1000.00")
    assert failed.sender_version_after == 1  # unchanged: a FAILED entry is not a balance change
    assert failed.receiver_balance_after is None
    assert (balance_of(alice), balance_of(bob)) == balances
    alice.wallet.refresh_from_db()
    assert alice.wallet.version == 1


def test_insufficient_funds_is_checked_before_the_daily_limit(alice: User, bob: User, settings) -> None:
    settings.PAYLANE_DAILY_LIMIT = Decimal("10.00")
    with pytest.raises(InsufficientFunds):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000")


def test_daily_limit_counts_todays_successful_outgoing_transfers(alice: User, bob: User, settings) -> None:
    settings.PAYLANE_DAILY_LIMIT = Decimal("100.00")
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="60")
    with pytest.raises(InsufficientFunds):  # a failed attempt does not count towards the limit
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000")
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="40")
    with pytest.raises(DailyLimitExceeded) as refused:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="0.01")

    assert refused.value.transaction is not None
    assert refused.value.transaction.failure_reason == "daily_limit_exceeded"
    assert balance_of(bob) == Decimal("100.00")
    wallet = selectors.wallet_for_user(user=alice)
    assert selectors.wallet_remaining_today(wallet=wallet) == 0


def test_incoming_money_and_top_ups_do_not_use_up_the_limit(alice: User, bob: User, settings) -> None:
    settings.PAYLANE_DAILY_LIMIT = Decimal("100.00")
    services.wallet_top_up(user=bob, amount="500")
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100")
    services.transfer_create(sender=bob, to_user_id=alice.pk, amount="100")
    assert balance_of(bob) == Decimal("500.00")


def test_the_limit_resets_on_the_next_calendar_day_in_the_service_time_zone(
    alice: User, bob: User, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PAYLANE_DAILY_LIMIT = Decimal("100.00")
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100")
    with pytest.raises(DailyLimitExceeded):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: tomorrow)
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100")
    assert balance_of(bob) == Decimal("200.00")


def test_a_per_wallet_override_replaces_the_default_limit(alice: User, bob: User, settings) -> None:
    settings.PAYLANE_DAILY_LIMIT = Decimal("10.00")
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=Decimal("500.00"))
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="400")
    assert balance_of(bob) == Decimal("400.00")


# --- History ---------------------------------------------------------------------------------


def test_history_shows_both_directions_newest_first_and_failed_attempts_to_the_sender_only(
    alice: User, bob: User
) -> None:
    sent = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10")
    with pytest.raises(InsufficientFunds) as refused:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="99999")
    back = services.transfer_create(sender=bob, to_user_id=alice.pk, amount="3")
    failed = refused.value.transaction
    assert failed is not None

    alice_history = list(selectors.transactions_for_user(user_id=alice.pk))
    bob_history = list(selectors.transactions_for_user(user_id=bob.pk))
    assert [t.pk for t in alice_history][:3] == [back.pk, failed.pk, sent.pk]
    assert len(alice_history) == 4  # plus alice's top-up
    assert [t.pk for t in bob_history] == [back.pk, sent.pk]


# --- The real-time seam ----------------------------------------------------------------------


def test_pushes_leave_only_after_commit(
    alice: User, bob: User, pushed: list[Transaction], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    assert pushed == []
    assert len(callbacks) == 1  # the push (the alerts are a row of the outbox: tests/wallets/accounts/test_alerts.py)
    callbacks[0]()
    assert pushed == [entry]


def test_a_failed_attempt_is_pushed_and_a_refusal_that_records_nothing_is_not(
    alice: User, bob: User, pushed: list[Transaction], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InsufficientFunds) as refused:
            services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000")
        with pytest.raises(SelfTransfer):
            services.transfer_create(sender=alice, to_user_id=alice.pk, amount="1")
    assert pushed == [refused.value.transaction]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transfer_pushes_nothing(
    register: Callable[..., User], pushed: list[Transaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = register("alice", balance="50"), register("bob")
    pushed.clear()

    def crash_before_commit(entry: Transaction, refusal: object) -> None:  # after the ledger row
        raise RuntimeError("crash before COMMIT")

    with pytest.raises(RuntimeError):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="20", on_recorded=crash_before_commit)
    assert pushed == []
    assert (balance_of(alice), balance_of(bob)) == (Decimal("50.00"), 0)


@pytest.mark.django_db(transaction=True)
def test_a_failing_push_never_undoes_a_committed_transfer(
    register: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = register("alice", balance="50"), register("bob")

    def channel_layer_down(entry: Transaction) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(notify, "transaction_committed", channel_layer_down)
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="20")
    assert Transaction.objects.filter(pk=entry.pk).exists()
    assert balance_of(bob) == Decimal("20.00")
