"""Statement helpers: money moved on a chosen day, as the services move it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as clock

import pytest
from django.utils import timezone

from ledger.models import Transaction
from tests.wallets.api.conftest import Api
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.models import User

At = Callable[..., Transaction]


@pytest.fixture
def asha(register: Callable[..., User]) -> User:
    """The statements' account holder, with a full name for the PDF's header."""
    return register("asha", mobile="+919876543210", first_name="Asha", last_name="Rao")


@pytest.fixture
def ravi(register: Callable[..., User]) -> User:
    return register("ravi", mobile="+919812345678")


def moment(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock(hour, minute)))


@contextmanager
def clock_at(monkeypatch: pytest.MonkeyPatch, day: date, hour: int = 12, minute: int = 0) -> Iterator[None]:
    """The services' clock reads that moment (TIME_ZONE) inside the block, the real one after it."""
    fixed = moment(day, hour, minute)
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: fixed)
        yield


@pytest.fixture
def pay(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Transaction]:
    """``pay(alice, bob, "10", day)``: a transfer on that day (noon unless ``hour``)."""

    def make(sender: User, receiver: User, amount: str, day: date, *, hour: int = 12, note: str = "") -> Transaction:
        with clock_at(monkeypatch, day, hour):
            return services.transfer_create(sender=sender, to_user_id=receiver.pk, amount=amount, note=note)

    return make


@pytest.fixture
def top_up(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Transaction]:
    """``top_up(alice, "10", day)``: money added on that day (noon unless ``hour``)."""

    def make(user: User, amount: str, day: date, *, hour: int = 12) -> Transaction:
        with clock_at(monkeypatch, day, hour):
            return services.wallet_top_up(user=user, amount=amount)

    return make


@pytest.fixture
def api_for(db: None) -> Callable[[User], Api]:
    """A JSON client signed in as the user with a fresh Bearer token."""

    def make(user: User) -> Api:
        return Api(token_issue(user=user))

    return make
