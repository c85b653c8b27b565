"""Racing transfers on PostgreSQL: real threads, each with its own connection."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from ledger.models import Transaction
from tests.racing import race
from wallets import services
from wallets.errors import DailyLimitExceeded, InsufficientFunds, WalletError
from wallets.models import User, Wallet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_many_racing_transfers_keep_every_invariant(register: Callable[..., User]) -> None:
    users = [register(f"u{i}", balance="500.00") for i in range(4)]
    hot = users[0]
    rng = random.Random(20261124)

    def worker(seed: int) -> Counter[str]:
        local = random.Random(seed)
        outcome: Counter[str] = Counter()
        for n in range(25):
            if n % 3 == 0:  # the hot wallet, in both directions
                a, b = (hot, local.choice(users[1:]))
                sender, receiver = (a, b) if local.random() < 0.5 else (b, a)
            else:
                sender, receiver = local.sample(users, 2)
            amount = f"{local.randint(1, 20000) / 100:.2f}"
            try:
                services.transfer_create(sender=sender, to_user_id=receiver.pk, amount=amount)
                outcome["ok"] += 1
            except (InsufficientFunds, DailyLimitExceeded) as refused:
                outcome[refused.code] += 1
        return outcome

    seeds = [rng.randrange(10**9) for _ in range(8)]
    results = race([lambda s=s: worker(s) for s in seeds])
    assert not [r for r in results if isinstance(r, BaseException)], results
    totals = sum(results, Counter())

    balances = list(Wallet.objects.values_list("balance", flat=True))
    assert all(b >= 0 for b in balances)
    assert sum(balances) == Decimal("2000.00")
    transfers = Transaction.objects.filter(transaction_type="TRANSFER")
    assert transfers.filter(status="SUCCESS").count() == totals["ok"]
    assert transfers.filter(status="FAILED").count() == totals["insufficient_funds"] + totals["daily_limit_exceeded"]
    assert totals["ok"] > 0
    call_command("verify_ledger", verbosity=0)


def test_opposite_transfers_between_the_same_pair_do_not_deadlock(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="1000"), register("bob", balance="1000")

    def send(sender: User, receiver: User) -> int:
        for _ in range(20):
            services.transfer_create(sender=sender, to_user_id=receiver.pk, amount="1.00")
        return 20

    results = race([lambda: send(alice, bob), lambda: send(bob, alice)] * 3)
    assert results == [20] * 6
    assert Wallet.objects.aggregate(total=Sum("balance"))["total"] == Decimal("2000.00")
    call_command("verify_ledger", verbosity=0)


def test_two_racing_payments_never_spend_the_same_money_twice(register: Callable[..., User]) -> None:
    alice = register("alice", balance="100.00")
    payees = [register(f"payee{i}") for i in range(8)]

    results = race(
        [lambda p=p: services.transfer_create(sender=alice, to_user_id=p.pk, amount="100.00") for p in payees]
    )

    succeeded = [r for r in results if isinstance(r, Transaction)]
    refused = [r for r in results if isinstance(r, WalletError)]
    assert len(succeeded) == 1
    assert len(refused) == 7 and all(isinstance(r, InsufficientFunds) for r in refused)
    assert Wallet.objects.get(user=alice).balance == 0
    call_command("verify_ledger", verbosity=0)


def test_racing_transfers_under_the_daily_limit_succeed_exactly_as_far_as_the_limit_allows(
    register: Callable[..., User], settings
) -> None:
    settings.PAYLANE_DAILY_LIMIT = Decimal("100.00")
    alice, bob = register("alice", balance="1000.00"), register("bob")

    results = race([lambda: services.transfer_create(sender=alice, to_user_id=bob.pk, amount="30.00")] * 10)

    assert sum(isinstance(r, Transaction) for r in results) == 3
    assert sum(isinstance(r, DailyLimitExceeded) for r in results) == 7
    assert Wallet.objects.get(user=bob).balance == Decimal("90.00")
    call_command("verify_ledger", verbosity=0)


def test_per_user_ledger_ids_follow_commit_order(register: Callable[..., User]) -> None:
    # Every entry is inserted under its wallet's lock, so a wallet's versions
    # rise with the ledger id: resuming "after id N" can never skip an entry.
    users = [register(f"u{i}", balance="100.00") for i in range(3)]

    def churn(i: int) -> None:
        for n in range(15):
            sender, receiver = users[(i + n) % 3], users[(i + n + 1) % 3]
            try:
                services.transfer_create(sender=sender, to_user_id=receiver.pk, amount="7.00")
            except InsufficientFunds:
                pass

    assert race([lambda i=i: churn(i) for i in range(6)]) == [None] * 6
    for user in users:
        versions = [
            t.sender_version_after if t.sender_id == user.pk else t.receiver_version_after
            for t in Transaction.objects.filter(status="SUCCESS").order_by("id")
            if user.pk in (t.sender_id, t.receiver_id)
        ]
        assert versions == list(range(1, len(versions) + 1))
