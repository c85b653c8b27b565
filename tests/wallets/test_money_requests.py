"""Requesting money: the payer always approves (issue #13, "Requesting money").

A request moves nothing until its payer pays it with an ordinary transfer linked to it; it is paid at
most once and never after it expired, was declined or cancelled; only verified accounts take part; a
requester makes at most PAYLANE_REQUEST_RATE a day; a payer can mute a requester.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from ledger.models import Transaction
from project.periodic import expire_requests
from tests.conftest import PIN, balance_of
from wallets import money_requests, services
from wallets.errors import (
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    InvalidPin,
    MobileNotVerified,
    RecipientNotFound,
    RequestClosed,
    RequestLimitExceeded,
    RequestNotFound,
    RequestWrongParty,
    SelfRequest,
    ValidationFailed,
)
from wallets.models import MoneyRequest, User
from wallets.payloads import transaction_payload
from wallets.request_payloads import request_payload
from wallets.request_selectors import pending_incoming, requests_for_user

Status = MoneyRequest.Status


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """``clock(moment)``: from now on the services read ``moment`` as the time."""

    def move(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return move


def ask(requester: User, payer: User, amount: str = "50.00", note: str = "") -> MoneyRequest:
    return money_requests.request_create(requester=requester, to_user_id=payer.pk, amount=amount, note=note)


# --- Making a request ----------------------------------------------------------------------------


def test_a_request_is_pending_and_expires_after_the_ttl(alice: User, bob: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REQUEST_TTL = timedelta(days=7)
    before = timezone.now()
    made = ask(bob, alice, "120.50", note="  dinner ")
    assert (made.status, made.amount, made.note, made.requester_id, made.payer_id) == (
        Status.PENDING,
        Decimal("120.50"),
        "dinner",
        bob.pk,
        alice.pk,
    )
    assert made.expires_at - made.created_at == timedelta(days=7)
    assert made.created_at >= before
    assert Transaction.objects.filter(transaction_type="TRANSFER").count() == 0


def test_a_request_by_mobile_number_finds_the_verified_account(alice: User, bob: User) -> None:
    made = money_requests.request_create(requester=bob, to_mobile="+91 98765 43210", amount="5")
    assert made.payer_id == alice.pk


def test_an_unverified_payer_answers_as_an_unknown_one(alice: User, register: Callable[..., User]) -> None:
    carol = register("carol", verify=False)
    with pytest.raises(RecipientNotFound) as unverified:
        ask(alice, carol)
    with pytest.raises(RecipientNotFound) as unknown:
        money_requests.request_create(requester=alice, to_user_id=carol.pk + 100, amount="5")
    assert unverified.value.code == unknown.value.code == "recipient_not_found"
    assert not MoneyRequest.objects.exists()


def test_an_unverified_requester_cannot_ask(alice: User, register: Callable[..., User]) -> None:
    carol = register("carol", verify=False)
    with pytest.raises(MobileNotVerified):
        ask(carol, alice)


def test_nobody_asks_themselves(alice: User) -> None:
    with pytest.raises(SelfRequest):
        ask(alice, alice)


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.001", 1.5])
def test_a_bad_amount_is_refused(alice: User, bob: User, amount: object) -> None:
    with pytest.raises(InvalidAmount):
        money_requests.request_create(requester=bob, to_user_id=alice.pk, amount=amount)
    assert not MoneyRequest.objects.exists()


def test_name_the_payer_once(alice: User, bob: User) -> None:
    with pytest.raises(ValidationFailed):
        money_requests.request_create(requester=bob, amount="5")
    with pytest.raises(ValidationFailed):
        money_requests.request_create(requester=bob, to_user_id=alice.pk, to_mobile="+919876543210", amount="5")


def test_a_requester_makes_at_most_the_daily_rate(alice: User, bob: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REQUEST_RATE = 3
    for _ in range(3):
        ask(bob, alice, "1")
    with pytest.raises(RequestLimitExceeded) as refused:
        ask(bob, alice, "1")
    assert refused.value.code == "request_limit_exceeded" and refused.value.http_status == 429
    assert 0 < refused.value.retry_after <= 24 * 3600
    assert MoneyRequest.objects.count() == 3
    # Another requester has a count of their own.
    ask(alice, bob, "1")


def test_the_daily_rate_counts_only_the_last_24_hours(alice: User, bob: User, settings, clock) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REQUEST_RATE = 1
    ask(bob, alice, "1")
    clock(timezone.now() + timedelta(hours=24, seconds=1))
    ask(bob, alice, "1")
    assert MoneyRequest.objects.count() == 2


def test_a_payer_who_muted_the_requester_answers_as_unknown(alice: User, bob: User) -> None:
    money_requests.request_mute(payer=alice, requester_id=bob.pk)
    money_requests.request_mute(payer=alice, requester_id=bob.pk)  # twice is once
    with pytest.raises(RecipientNotFound):
        ask(bob, alice)
    assert money_requests.request_unmute(payer=alice, requester_id=bob.pk) is True
    assert money_requests.request_unmute(payer=alice, requester_id=bob.pk) is False
    assert ask(bob, alice).status == Status.PENDING


def test_nobody_mutes_themselves_or_an_unknown_account(alice: User) -> None:
    with pytest.raises(SelfRequest):
        money_requests.request_mute(payer=alice, requester_id=alice.pk)
    with pytest.raises(RecipientNotFound):
        money_requests.request_mute(payer=alice, requester_id=alice.pk + 100)


# --- Paying ----------------------------------------------------------------------------------------


def test_paying_moves_the_amount_with_a_transfer_linked_to_the_request(alice: User, bob: User) -> None:
    made = ask(bob, alice, "120.50", note="dinner")
    entry = money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    made.refresh_from_db()
    assert (entry.transaction_type, entry.status, entry.sender_id, entry.receiver_id) == (
        "TRANSFER",
        "SUCCESS",
        alice.pk,
        bob.pk,
    )
    assert (entry.amount, entry.note) == (Decimal("120.50"), "dinner")
    assert (made.status, made.paid_entry_id, made.closed_at) == (Status.PAID, entry.pk, entry.created_at)
    assert transaction_payload(entry)["request"] == made.pk
    assert balance_of(alice) == Decimal("879.50") and balance_of(bob) == Decimal("120.50")
    call_command("verify_ledger", verbosity=0)


def test_a_request_is_paid_at_most_once(alice: User, bob: User) -> None:
    made = ask(bob, alice)
    money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    with pytest.raises(RequestClosed) as again:
        money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    assert again.value.http_status == 409 and again.value.code == "request_closed"
    assert balance_of(bob) == Decimal("50.00")


def test_paying_needs_the_pin(alice: User, bob: User) -> None:
    made = ask(bob, alice)
    with pytest.raises(InvalidPin):
        money_requests.request_pay(payer=alice, request_id=made.pk, pin="1111")
    made.refresh_from_db()
    assert made.status == Status.PENDING and balance_of(bob) == 0


def test_only_the_payer_pays_and_strangers_do_not_see_it(alice: User, bob: User, register) -> None:  # type: ignore[no-untyped-def]
    carol = register("carol", balance="100")
    made = ask(bob, alice)
    with pytest.raises(RequestWrongParty):
        money_requests.request_pay(payer=bob, request_id=made.pk, pin=PIN)
    with pytest.raises(RequestNotFound):
        money_requests.request_pay(payer=carol, request_id=made.pk, pin=PIN)
    with pytest.raises(RequestNotFound):
        money_requests.request_pay(payer=alice, request_id=made.pk + 1000, pin=PIN)


def test_a_payment_short_of_funds_is_a_failed_transfer_and_the_request_stays_pending(alice: User, bob: User) -> None:
    made = ask(alice, bob, "10.00")  # bob has nothing
    with pytest.raises(InsufficientFunds) as refused:
        money_requests.request_pay(payer=bob, request_id=made.pk, pin=PIN)
    assert refused.value.transaction is not None and refused.value.transaction.status == "FAILED"
    made.refresh_from_db()
    assert made.status == Status.PENDING and made.paid_entry_id is None


def test_the_daily_limit_applies_to_paying_a_request(alice: User, bob: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_DAILY_LIMIT = Decimal("40.00")
    made = ask(bob, alice, "50.00")
    with pytest.raises(DailyLimitExceeded):
        money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    made.refresh_from_db()
    assert made.status == Status.PENDING


def test_an_expired_request_cannot_be_paid_and_is_marked_expired(alice: User, bob: User, clock) -> None:  # type: ignore[no-untyped-def]
    made = ask(bob, alice)
    assert request_payload(made)["status"] == "PENDING"
    clock(made.expires_at + timedelta(seconds=1))
    assert request_payload(made)["status"] == "EXPIRED"  # already, for readers
    with pytest.raises(RequestClosed):
        money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    made.refresh_from_db()
    assert made.status == Status.EXPIRED and made.closed_at is not None
    assert balance_of(bob) == 0


# --- Declining, cancelling, expiring ---------------------------------------------------------------


def test_the_payer_declines_and_then_nobody_can_pay_or_cancel(alice: User, bob: User) -> None:
    made = ask(bob, alice)
    assert money_requests.request_decline(payer=alice, request_id=made.pk).status == Status.DECLINED
    with pytest.raises(RequestClosed):
        money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    with pytest.raises(RequestClosed):
        money_requests.request_cancel(requester=bob, request_id=made.pk)


def test_the_requester_cancels_and_then_it_cannot_be_paid(alice: User, bob: User) -> None:
    made = ask(bob, alice)
    assert money_requests.request_cancel(requester=bob, request_id=made.pk).status == Status.CANCELLED
    with pytest.raises(RequestClosed):
        money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    assert balance_of(bob) == 0


def test_each_side_closes_only_its_own_way(alice: User, bob: User, register) -> None:  # type: ignore[no-untyped-def]
    carol = register("carol")
    made = ask(bob, alice)
    with pytest.raises(RequestWrongParty):
        money_requests.request_decline(payer=bob, request_id=made.pk)
    with pytest.raises(RequestWrongParty):
        money_requests.request_cancel(requester=alice, request_id=made.pk)
    with pytest.raises(RequestNotFound):
        money_requests.request_cancel(requester=carol, request_id=made.pk)
    made.refresh_from_db()
    assert made.status == Status.PENDING


def test_the_periodic_job_expires_what_is_due_and_nothing_else(alice: User, bob: User, clock) -> None:  # type: ignore[no-untyped-def]
    due = ask(bob, alice)
    paid = ask(bob, alice)
    money_requests.request_pay(payer=alice, request_id=paid.pk, pin=PIN)
    clock(due.expires_at + timedelta(minutes=1))
    fresh = ask(bob, alice)
    assert expire_requests() == {"ok": True, "expired": 1}
    statuses = dict(MoneyRequest.objects.values_list("id", "status"))
    assert statuses == {due.pk: "EXPIRED", paid.pk: "PAID", fresh.pk: "PENDING"}
    assert expire_requests() == {"ok": True, "expired": 0}


# --- Reading -----------------------------------------------------------------------------------------


def test_lists_by_direction_and_status(alice: User, bob: User) -> None:
    incoming = ask(bob, alice)
    outgoing = ask(alice, bob)
    declined = ask(bob, alice)
    money_requests.request_decline(payer=alice, request_id=declined.pk)
    assert [r.pk for r in requests_for_user(user_id=alice.pk, direction="incoming")] == [declined.pk, incoming.pk]
    assert [r.pk for r in requests_for_user(user_id=alice.pk, direction="outgoing")] == [outgoing.pk]
    assert [r.pk for r in requests_for_user(user_id=alice.pk, status="DECLINED")] == [declined.pk]
    assert [r.pk for r in pending_incoming(user_id=alice.pk)] == [incoming.pk]


def test_the_request_object(alice: User, bob: User) -> None:
    made = ask(bob, alice, "7.5", note="coffee")
    payload = request_payload(made)
    assert payload == {
        "id": made.pk,
        "status": "PENDING",
        "amount": "7.50",
        "currency": "INR",
        "requester": {"user_id": bob.pk, "username": "bob"},
        "payer": {"user_id": alice.pk, "username": "alice"},
        "note": "coffee",
        "created_at": timezone.localtime(made.created_at).isoformat(),
        "expires_at": timezone.localtime(made.expires_at).isoformat(),
        "closed_at": None,
        "transaction": None,
    }


def test_history_names_the_request_a_transfer_paid_in_a_constant_number_of_queries(
    alice: User, bob: User, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    from wallets.selectors import transaction_for_user, transactions_page_for_user

    made = ask(bob, alice)
    paid = money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    plain = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    with django_assert_num_queries(3):  # the ids, the rows, the requests
        page = transactions_page_for_user(user_id=alice.pk, limit=10)
    assert {e.pk: transaction_payload(e)["request"] for e in page} == {
        plain.pk: None,
        paid.pk: made.pk,
        page[-1].pk: None,  # the top-up
    }
    one = transaction_for_user(user_id=bob.pk, transaction_id=paid.pk)
    assert one is not None and transaction_payload(one)["request"] == made.pk


# --- verify_ledger ---------------------------------------------------------------------------------


def test_verify_ledger_finds_a_paid_request_that_does_not_match_its_transfer(alice: User, bob: User) -> None:
    from ledger.reconcile import ledger_reconcile

    made = ask(bob, alice, "20.00")
    money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    assert [f for f in ledger_reconcile() if f.check == "request"] == []
    MoneyRequest.objects.filter(pk=made.pk).update(amount=Decimal("25.00"))  # as a bad edit would
    findings = [f for f in ledger_reconcile() if f.check == "request"]
    assert [f.subject for f in findings] == [f"money request {made.pk}"]


def test_the_admin_shows_requests_read_only(admin_client, alice: User, bob: User) -> None:  # type: ignore[no-untyped-def]
    made = ask(bob, alice, "3.00")
    listed = admin_client.get("/admin/wallets/moneyrequest/")
    assert listed.status_code == 200 and f"/admin/wallets/moneyrequest/{made.pk}/change/" in listed.content.decode()
    assert admin_client.get("/admin/wallets/moneyrequest/add/").status_code == 403
    assert admin_client.post(f"/admin/wallets/moneyrequest/{made.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MoneyRequest.objects.filter(pk=made.pk, status="PENDING").exists()
