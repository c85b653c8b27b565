"""GET /api/v1/transactions/ with filters: since, until, counterparty, direction, type, status,
min_amount, max_amount and q, alone and together, over keyset pages; every bad value a 400."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from ledger import selectors as ledger_selectors
from ledger.models import Transaction
from tests.wallets.api.conftest import Api, error_of, state
from wallets import services
from wallets.errors import InsufficientFunds
from wallets.models import User

LIST = "/api/v1/transactions/"


@dataclass
class World:
    alice: User
    bob: User
    carol: User
    e: dict[str, Transaction]


@pytest.fixture(params=[1000, 1, 3], ids=lambda w: f"window{w}")
def window(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """On PostgreSQL a range or text filter looks among the newest HISTORY_WINDOW rows of a side
    first, then the older ones: small windows send every case through both parts."""
    monkeypatch.setattr(ledger_selectors, "HISTORY_WINDOW", request.param)
    return int(request.param)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``at("2026-11-10 10:00")``: from now on the clock reads that local time (TIME_ZONE)."""

    def set_clock(local: str) -> None:
        moment = timezone.make_aware(datetime.fromisoformat(local))
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_clock


@pytest.fixture
def world(register: Callable[..., User], at: Callable[[str], None]) -> World:
    """Alice's November, in local time; every entry through the services."""
    at("2026-11-01 09:00")
    alice = register("alice")
    bob = register("bob")
    carol = register("Carol_Jones")
    e: dict[str, Transaction] = {}
    e["alice_top_up"] = services.wallet_top_up(user=alice, amount="1000")
    e["bob_top_up"] = services.wallet_top_up(user=bob, amount="500")
    e["carol_top_up"] = services.wallet_top_up(user=carol, amount="100")
    at("2026-11-10 10:00")
    e["rent"] = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100", note="Rent, November")
    at("2026-11-12 19:30")
    e["pizza"] = services.transfer_create(sender=bob, to_user_id=alice.pk, amount="25.50", note="pizza 100%")
    at("2026-11-15 00:00")
    e["coffee"] = services.transfer_create(sender=alice, to_user_id=carol.pk, amount="5", note="coffee beans")
    at("2026-11-15 23:59:59")
    with pytest.raises(InsufficientFunds):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000", note="car")
    e["failed"] = Transaction.objects.get(status="FAILED")
    at("2026-11-20 00:00")
    e["carol_pays"] = services.transfer_create(sender=carol, to_user_id=alice.pk, amount="7")
    e["bob_pays_carol"] = services.transfer_create(sender=bob, to_user_id=carol.pk, amount="1", note="rent share")
    return World(alice=alice, bob=bob, carol=carol, e=e)


def ids(api: Api, **params: Any) -> list[int]:
    response = api.get(LIST, params)
    assert response.status_code == 200, response.json()
    return [t["id"] for t in response.json()["results"]]


def expect(world: World, *names: str) -> list[int]:
    """The entries' ids, newest first (as the history lists them)."""
    return sorted((world.e[name].pk for name in names), reverse=True)


ALICE_ALL = ("alice_top_up", "rent", "pizza", "coffee", "failed", "carol_pays")


def test_without_filters_alice_sees_her_whole_history(api_for: Callable[[User], Api], world: World) -> None:
    assert ids(api_for(world.alice)) == expect(world, *ALICE_ALL)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        # Whole days in TIME_ZONE, both ends inclusive.
        ({"since": "2026-11-15"}, ("coffee", "failed", "carol_pays")),
        ({"until": "2026-11-15"}, ("alice_top_up", "rent", "pizza", "coffee", "failed")),
        ({"since": "2026-11-15", "until": "2026-11-15"}, ("coffee", "failed")),
        ({"until": "2026-11-19"}, ("alice_top_up", "rent", "pizza", "coffee", "failed")),
        ({"since": "2026-11-21"}, ()),
        # The other party, either way round.
        ({"counterparty": "BOB"}, ("rent", "pizza", "failed")),
        ({"counterparty": "CAROL"}, ("coffee", "carol_pays")),
        # in: what paid alice (her top-up too); out: what she sent (her refused attempt too).
        ({"direction": "in"}, ("alice_top_up", "pizza", "carol_pays")),
        ({"direction": "out"}, ("rent", "coffee", "failed")),
        ({"type": "ADD_MONEY"}, ("alice_top_up",)),
        ({"type": "TRANSFER"}, ("rent", "pizza", "coffee", "failed", "carol_pays")),
        ({"type": "REFUND"}, ()),
        ({"status": "FAILED"}, ("failed",)),
        ({"status": "SUCCESS"}, ("alice_top_up", "rent", "pizza", "coffee", "carol_pays")),
        ({"min_amount": "100"}, ("alice_top_up", "rent", "failed")),
        ({"max_amount": "25.50"}, ("pizza", "coffee", "carol_pays")),
        ({"min_amount": "7", "max_amount": "100.00"}, ("rent", "pizza", "carol_pays")),
        ({"min_amount": "25.5", "max_amount": "25.5"}, ("pizza",)),
        # q: the note or the other party's username, any case, anywhere in it.
        ({"q": "rent"}, ("rent",)),
        ({"q": "PIZZA"}, ("pizza",)),
        ({"q": "BeAn"}, ("coffee",)),
        ({"q": "jones"}, ("coffee", "carol_pays")),
        ({"q": "bo"}, ("rent", "pizza", "failed")),
        ({"q": "  coffee  "}, ("coffee",)),
        # % and _ are text, not patterns.
        ({"q": "100%"}, ("pizza",)),
        ({"q": "%"}, ("pizza",)),
        ({"q": "l_j"}, ("coffee", "carol_pays")),
        ({"q": "r_n"}, ()),
        ({"q": "nobody"}, ()),
        # Only spaces: no filter.
        ({"q": "   "}, ALICE_ALL),
    ],
)
def test_each_filter_alone(
    api_for: Callable[[User], Api], world: World, window: int, params: dict[str, str], names: tuple[str, ...]
) -> None:
    params = {
        k: str(world.bob.pk) if v == "BOB" else str(world.carol.pk) if v == "CAROL" else v for k, v in params.items()
    }
    assert ids(api_for(world.alice), **params) == expect(world, *names)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"counterparty": "BOB", "direction": "out"}, ("rent", "failed")),
        ({"counterparty": "BOB", "direction": "out", "status": "SUCCESS"}, ("rent",)),
        ({"counterparty": "BOB", "since": "2026-11-11", "until": "2026-11-14"}, ("pizza",)),
        ({"direction": "in", "type": "TRANSFER", "min_amount": "10"}, ("pizza",)),
        ({"direction": "in", "status": "FAILED"}, ()),
        ({"q": "rent", "counterparty": "CAROL"}, ()),
        ({"q": "carol", "direction": "in"}, ("carol_pays",)),
        ({"q": "o", "since": "2026-11-12", "max_amount": "10"}, ("coffee", "carol_pays")),
        (
            {
                "since": "2026-11-01",
                "until": "2026-11-30",
                "counterparty": "BOB",
                "direction": "out",
                "type": "TRANSFER",
                "status": "SUCCESS",
                "min_amount": "50",
                "max_amount": "150",
                "q": "NOVEMBER",
            },
            ("rent",),
        ),
    ],
)
def test_filters_combine(
    api_for: Callable[[User], Api], world: World, window: int, params: dict[str, str], names: tuple[str, ...]
) -> None:
    params = {
        k: str(world.bob.pk) if v == "BOB" else str(world.carol.pk) if v == "CAROL" else v for k, v in params.items()
    }
    assert ids(api_for(world.alice), **params) == expect(world, *names)


def test_filters_never_widen_what_a_user_may_see(api_for: Callable[[User], Api], world: World) -> None:
    bob = api_for(world.bob)
    # Alice's refused attempt to pay bob is hers alone, however bob asks.
    assert ids(bob, status="FAILED") == []
    assert world.e["failed"].pk not in ids(bob, counterparty=str(world.alice.pk))
    # Carol's entries with others than bob stay hers: bob's counterparty filter finds only his own.
    assert ids(bob, counterparty=str(world.carol.pk)) == expect(world, "bob_pays_carol")
    assert ids(bob, q="coffee") == []
    assert ids(bob, q="rent") == expect(world, "rent", "bob_pays_carol")


def test_pages_keep_the_filters_and_cover_every_match_once(
    api_for: Callable[[User], Api], world: World, at: Callable[[str], None], window: int
) -> None:
    at("2026-11-25 12:00")
    for n in range(7):
        services.transfer_create(sender=world.alice, to_user_id=world.bob.pk, amount="1", note=f"snack {n}")
        services.transfer_create(sender=world.alice, to_user_id=world.carol.pk, amount="1", note=f"snack {n}")
    api = api_for(world.alice)
    expected = list(
        Transaction.objects.filter(sender=world.alice, receiver=world.bob, note__startswith="snack")
        .order_by("-id")
        .values_list("id", flat=True)
    )
    filters = {"counterparty": str(world.bob.pk), "q": "SNACK", "since": "2026-11-25"}
    seen: list[int] = []
    body = api.get(LIST, {**filters, "limit": "3"}).json()
    while True:
        seen += [t["id"] for t in body["results"]]
        if body["next"] is None:
            assert body["next_cursor"] is None
            break
        link = urlsplit(body["next"])
        assert link.path == LIST
        query = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert query == {**filters, "q": "SNACK", "limit": "3", "cursor": body["next_cursor"]}
        body = api.get(body["next"]).json()
    assert seen == expected
    assert len(seen) == 7


def test_a_cursor_with_the_filters_gives_the_next_page(api_for: Callable[[User], Api], world: World) -> None:
    api = api_for(world.alice)
    first = api.get(LIST, {"direction": "out", "limit": "1"}).json()
    second = api.get(LIST, {"direction": "out", "limit": "1", "cursor": first["next_cursor"]}).json()
    assert [t["id"] for t in first["results"] + second["results"]] == expect(world, "failed", "coffee")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "30-11-2026"}, "since"),
        ({"since": "2026-02-29"}, "since"),
        ({"since": "20261130"}, "since"),
        ({"since": ""}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"until": "0000-01-01"}, "until"),
        ({"since": "2026-11-16", "until": "2026-11-15"}, "until"),
        ({"counterparty": "bob"}, "counterparty"),
        ({"counterparty": "-1"}, "counterparty"),
        ({"counterparty": "1" * 19}, "counterparty"),
        ({"direction": "IN"}, "direction"),
        ({"direction": "sideways"}, "direction"),
        ({"type": "transfer"}, "type"),
        ({"status": "PENDING"}, "status"),
        ({"min_amount": "0"}, "min_amount"),
        ({"min_amount": "-5"}, "min_amount"),
        ({"min_amount": "1.005"}, "min_amount"),
        ({"max_amount": "1e3"}, "max_amount"),
        ({"max_amount": "NaN"}, "max_amount"),
        ({"min_amount": "10", "max_amount": "9.99"}, "max_amount"),
        ({"q": ""}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "tab\there"}, "q"),
        ({"q": "x" * 151}, "q"),
    ],
)
def test_every_bad_filter_is_a_400_naming_it(
    api_for: Callable[[User], Api], world: World, params: dict[str, str], field: str
) -> None:
    before = state()
    response = api_for(world.alice).get(LIST, params)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_filter"
    assert list(error["fields"]) == [field]
    assert field in error["message"]
    assert state() == before


def test_the_ends_of_the_calendar_are_days_like_any_other(api_for: Callable[[User], Api], world: World) -> None:
    api = api_for(world.alice)
    assert ids(api, since="0001-01-01", until="9999-12-31") == expect(world, *ALICE_ALL)
    assert ids(api, since="0001-01-02", until="9999-12-30") == expect(world, *ALICE_ALL)
    assert ids(api, until="0001-01-01") == []
    assert ids(api, since="9999-12-31") == []
    assert ids(api, counterparty="0") == []
    assert ids(api, counterparty="9" * 18) == []
    assert ids(api, max_amount="9" * 12) == expect(world, *ALICE_ALL)
