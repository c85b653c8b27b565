"""Racing corrections of one payment on PostgreSQL (refunds, staff approvals): real threads, each with its own
connection."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.management import call_command

from ledger.models import ReversalDecision, Transaction
from ledger.money import MoneySum
from tests.conftest import PIN
from tests.racing import race
from wallets import refunds, reversals, services
from wallets.errors import AlreadyRefunded, InvalidAmount, ProposalClosed
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_refunds_that_together_exceed_the_payment_one_wins(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="500.00"), register("bob", balance="500.00")
    for _ in range(5):
        payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")

        results = race(
            [lambda p=payment: refunds.refund_create(user=bob, transaction_id=p.pk, pin=PIN, amount="60.00")] * 2
        )

        won = [r for r in results if isinstance(r, Transaction)]
        lost = [r for r in results if not isinstance(r, Transaction)]
        assert len(won) == 1, results
        assert len(lost) == 1 and isinstance(lost[0], InvalidAmount), results
        refunded = Transaction.objects.filter(corrects=payment, status="SUCCESS").aggregate(t=MoneySum("amount"))["t"]
        assert refunded == Decimal("60.00")


def test_racing_full_refunds_of_one_payment_give_it_back_once(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="500.00"), register("bob", balance="500.00")
    payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")

    results = race([lambda: refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)] * 4)

    assert sum(isinstance(r, Transaction) for r in results) == 1, results
    assert all(isinstance(r, (Transaction, AlreadyRefunded)) for r in results), results
    assert Transaction.objects.filter(corrects=payment).count() == 1
    alice.wallet.refresh_from_db()
    assert alice.wallet.balance == Decimal("500.00")
    call_command("verify_ledger", verbosity=0)


def test_two_staff_approving_one_proposal_at_once_reverse_it_once(register: Callable[..., User]) -> None:
    from tests.wallets.test_reversals import staff

    alice, bob = register("alice", balance="500.00"), register("bob", balance="500.00")
    ops, lead, head = staff("ops"), staff("lead"), staff("head")
    payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="paid the wrong bob")

    results = race(
        [lambda who=who: reversals.reversal_approve(actor=who, proposal_id=proposal.pk) for who in (lead, head)]
    )

    approved = [r for r in results if isinstance(r, ReversalDecision)]
    assert len(approved) == 1 and approved[0].outcome == ReversalDecision.Outcome.APPROVED, results
    assert all(isinstance(r, (ReversalDecision, ProposalClosed)) for r in results), results
    assert Transaction.objects.filter(corrects=payment, transaction_type="REVERSAL").count() == 1
    alice.wallet.refresh_from_db()
    assert alice.wallet.balance == Decimal("500.00")
    call_command("verify_ledger", verbosity=0)


def test_a_refund_racing_a_reversal_of_one_payment_never_gives_back_more_than_it(register: Callable[..., User]) -> None:
    from tests.wallets.test_reversals import staff

    alice, bob = register("alice", balance="500.00"), register("bob", balance="500.00")
    ops, lead = staff("ops"), staff("lead")
    payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="disputed", amount="70.00")

    race(
        [
            lambda: reversals.reversal_approve(actor=lead, proposal_id=proposal.pk),
            lambda: refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="70.00"),
        ]
    )

    given_back = Transaction.objects.filter(corrects=payment, status="SUCCESS").aggregate(t=MoneySum("amount"))["t"]
    assert given_back == Decimal("70.00")
    call_command("verify_ledger", verbosity=0)
