"""The one-statement transfer and its twin give the same answers on the same inputs.

On PostgreSQL a transfer is the ``paylane_transfer`` function (wallets migration
0011); on SQLite, and on PostgreSQL with ``transfer_function.ONE_STATEMENT``
off, the Python path of ``wallets.services``. One table of inputs runs through
each path available on the backend, and every run must give the outcome the
table states: the error code and message, both wallets' balance, version and
daily counter, and the ledger rows (then ``verify_ledger``: every row's
SHA-256 recomputed in Python must match the one written, the function's too).
The suite runs on both backends, so both give the table's answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.models import Transaction
from tests.conftest import PIN
from wallets import idempotency, money_requests, services, transfer_function
from wallets.errors import WalletError
from wallets.models import Profile, User, Wallet

D = Decimal
ZERO = D("0.00")
START = (D("100.00"), ZERO)
MAX_BALANCE = services.MAX_BALANCE


@dataclass(frozen=True)
class Case:
    """Alice (the sender) and Bob start as ``arrange`` leaves them; ``act`` pays; the rest is the answer."""

    name: str
    act: Callable[[User, User], Any]
    outcome: str  # "ok" or the refusal's code
    message: str = ""
    balances: tuple[Decimal, Decimal] = START
    spent_today: Decimal = ZERO
    # (type, status, amount, failure_reason, note) of each ledger row after the top-up
    rows: tuple[tuple[str, str, str, str, str], ...] = ()
    arrange: Callable[[User, User], None] = lambda alice, bob: None
    verify: bool = True


def pay(amount: str, note: str = "", to: Callable[[User, User], object] = lambda alice, bob: bob.pk) -> Any:
    def act(alice: User, bob: User) -> Transaction:
        return services.transfer_create(sender=alice, to_user_id=to(alice, bob), amount=amount, note=note)

    return act


def limit(value: str) -> Callable[[User, User], None]:
    def arrange(alice: User, bob: User) -> None:
        services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=D(value))

    return arrange


def pay_with_key_twice(alice: User, bob: User) -> Any:
    """The API's Idempotency-Key (a form token is the same record): the second call replays."""

    def render(entry: Transaction, refusal: WalletError | None) -> tuple[int, dict[str, Any]]:
        return (422, {"code": refusal.code}) if refusal else (201, {"id": entry.pk, "amount": str(entry.amount)})

    def call() -> idempotency.Outcome:
        return idempotency.idempotent_call(
            user=alice,
            key="twin-1",
            endpoint="transfers",
            body={"to_user_id": bob.pk, "amount": "30"},
            perform=lambda on_recorded: services.transfer_create(
                sender=alice, to_user_id=bob.pk, amount="30", on_recorded=on_recorded
            ),
            render=render,
        )

    first, replay = call(), call()
    assert replay.replayed and (replay.status, replay.body) == (first.status, first.body)


def pay_request(alice: User, bob: User) -> Any:
    """A money request paid: the transfer runs inside the request's transaction (``transfer_apply``)."""
    request = money_requests.request_create(requester=bob, amount="40", to_user_id=alice.pk)
    return money_requests.request_pay(payer=alice, request_id=request.pk, pin=PIN)


def deactivate_alice(alice: User, bob: User) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)


def unverify(name: str) -> Callable[[User, User], None]:
    def arrange(alice: User, bob: User) -> None:
        Profile.objects.filter(user={"alice": alice, "bob": bob}[name]).update(mobile_verified_at=None)

    return arrange


def fill_bob(alice: User, bob: User) -> None:
    # Not through the ledger: no top-up may reach the column's maximum (this case skips verify_ledger).
    Wallet.objects.filter(user=bob).update(balance=MAX_BALANCE - D("5.00"))


CASES = [
    Case("ok", pay("30"), "ok", balances=(D("70.00"), D("30.00")), spent_today=D("30.00"),
         rows=(("TRANSFER", "SUCCESS", "30.00", "", ""),)),
    Case("ok, the whole balance", pay("100"), "ok", balances=(D("0.00"), D("100.00")), spent_today=D("100.00"),
         rows=(("TRANSFER", "SUCCESS", "100.00", "", ""),)),
    Case("ok, a note with quotes, a backslash, a rupee sign and an emoji", pay("1.50", 'Rent "May" \\ ₹ 🏠'), "ok",
         balances=(D("98.50"), D("1.50")), spent_today=D("1.50"),
         rows=(("TRANSFER", "SUCCESS", "1.50", "", 'Rent "May" \\ ₹ 🏠'),)),
    Case("insufficient funds", pay("100.01"), "insufficient_funds",
         "Insufficient funds: your balance is INR 100.00.",
         rows=(("TRANSFER", "FAILED", "100.01", "insufficient_funds", ""),)),
    Case("exactly at the daily limit", pay("50"), "ok", balances=(D("50.00"), D("50.00")), spent_today=D("50.00"),
         rows=(("TRANSFER", "SUCCESS", "50.00", "", ""),), arrange=limit("50")),
    Case("over the daily limit by a cent", pay("50.01"), "daily_limit_exceeded",
         "This would exceed your daily limit of INR 50.00: INR 50.00 left today.",
         rows=(("TRANSFER", "FAILED", "50.01", "daily_limit_exceeded", ""),), arrange=limit("50")),
    Case("funds are checked before the limit", pay("150"), "insufficient_funds",
         "Insufficient funds: your balance is INR 100.00.",
         rows=(("TRANSFER", "FAILED", "150.00", "insufficient_funds", ""),), arrange=limit("50")),
    Case("the same wallet", pay("10", to=lambda alice, bob: alice.pk), "self_transfer",
         "You cannot send money to yourself."),
    Case("an unknown wallet", pay("10", to=lambda alice, bob: 10**9), "recipient_not_found",
         "No registered user has that id."),
    Case("an inactive sender", pay("10"), "validation_error", "Your account cannot send money.",
         arrange=deactivate_alice),
    Case("an unverified sender", pay("10"), "mobile_not_verified",
         "Verify your mobile number first: a wallet moves no money until its number is proven yours.",
         arrange=unverify("alice")),
    Case("an unverified receiver answers as an unknown one", pay("10"), "recipient_not_found",
         "No registered user has that id.", arrange=unverify("bob")),
    Case("a receiver's wallet that cannot hold it", pay("10"), "invalid_amount",
         "The recipient's wallet cannot hold that much.", balances=(D("100.00"), MAX_BALANCE - D("5.00")),
         arrange=fill_bob, verify=False),
    Case("an idempotent replay moves money once", pay_with_key_twice, "ok", balances=(D("70.00"), D("30.00")),
         spent_today=D("30.00"), rows=(("TRANSFER", "SUCCESS", "30.00", "", ""),)),
    Case("a money request paid", pay_request, "ok", balances=(D("60.00"), D("40.00")), spent_today=D("40.00"),
         rows=(("TRANSFER", "SUCCESS", "40.00", "", ""),)),
]  # fmt: skip


@pytest.fixture(params=["one_statement", "steps"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Which path runs the transfers; yields the list that counts the function's calls."""
    if request.param == "one_statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement transfer is PostgreSQL's (SQLite has no stored functions)")
    monkeypatch.setattr(transfer_function, "ONE_STATEMENT", request.param == "one_statement")
    calls: list[int] = []
    original = transfer_function.transfer_one_statement

    def counted(**kwargs: Any) -> Any:
        calls.append(1)
        return original(**kwargs)

    monkeypatch.setattr(transfer_function, "transfer_one_statement", counted)
    yield calls


@pytest.mark.django_db(transaction=True)  # each case's transfer in a session of its own (below)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_both_paths_give_the_tables_answer(case: Case, path: list[int], register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="100"), register("bob")
    case.arrange(alice, bob)
    alice.refresh_from_db()
    # A fresh database session: PL/pgSQL plans the function's expressions at a session's first call
    # of them, and a refusal that comes first in a session must work too.
    connection.close()
    try:
        case.act(alice, bob)
        outcome, message = "ok", ""
    except WalletError as refusal:
        outcome, message = refusal.code, str(refusal.message)

    assert (outcome, message) == (case.outcome, case.message)
    wallets = {w.user_id: w for w in Wallet.objects.filter(user__in=(alice, bob))}
    assert (wallets[alice.pk].balance, wallets[bob.pk].balance) == case.balances
    assert wallets[alice.pk].spent_today == case.spent_today
    moved = case.outcome == "ok"
    assert (wallets[alice.pk].version, wallets[bob.pk].version) == ((2, 1) if moved else (1, 0))
    rows = Transaction.objects.filter(transaction_type="TRANSFER").order_by("id")
    assert tuple((r.transaction_type, r.status, str(r.amount), r.failure_reason, r.note) for r in rows) == case.rows
    for row in rows.filter(status="SUCCESS"):
        assert (row.sender_id, row.receiver_id) == (alice.pk, bob.pk)
        assert (row.sender_balance_after, row.receiver_balance_after) == case.balances
        assert (row.sender_version_after, row.receiver_version_after) == (2, 1)
    if case.verify:
        call_command("verify_ledger", verbosity=0)  # raises on a row whose hash does not match its content
    # The path under test ran: the function, for every transfer that reached the lock (the service
    # refuses paying oneself before it), or never.
    assert bool(path) == (transfer_function.ONE_STATEMENT and case.outcome != "self_transfer")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # BEGIN and COMMIT as in production, not a test's savepoint
def test_on_postgresql_a_transfer_is_one_statement_between_begin_and_commit(register: Callable[..., User]) -> None:
    from django.test.utils import CaptureQueriesContext

    alice, bob = register("alice", balance="100"), register("bob")
    with CaptureQueriesContext(connection) as captured:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5")
    statements = [q["sql"] for q in captured.captured_queries]
    begin = next(i for i, sql in enumerate(statements) if sql.upper().startswith("BEGIN"))
    commit = next(i for i, sql in enumerate(statements) if sql.upper().startswith("COMMIT"))
    # Lock, checks, both balances, the ledger row and the alerts' outbox row: one round trip.
    (transfer,) = statements[begin + 1 : commit]
    assert "paylane_transfer(" in transfer and "INSERT INTO" in transfer
