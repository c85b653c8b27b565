"""Idempotency-Key on top-ups and transfers: run once, replay, refuse reuse, races on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ledger.models import Transaction
from tests.conftest import balance_of
from tests.racing import race
from tests.wallets.api.conftest import Api, error_of
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, User

TOP_UPS = "/api/v1/wallet/top-ups/"
TRANSFERS = "/api/v1/transfers/"


def test_a_retried_top_up_replays_the_first_response_and_adds_money_once(
    api_for: Callable[[User], Api], alice: User
) -> None:
    api = api_for(alice)
    first = api.post(TOP_UPS, {"amount": "50"}, **{"Idempotency-Key": "k-1"})
    retry = api.post(TOP_UPS, raw='{ "amount" : "50" }', **{"Idempotency-Key": "k-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert balance_of(alice) == Decimal("1050.00")
    assert IdempotencyKey.objects.get().transaction_id == first.json()["id"]


def test_without_a_key_every_request_moves_money(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    api.post(TOP_UPS, {"amount": "50"})
    api.post(TOP_UPS, {"amount": "50"})
    assert balance_of(alice) == Decimal("1100.00")
    assert not IdempotencyKey.objects.exists()


def test_the_same_key_with_another_body_or_endpoint_is_refused(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    assert api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}, **{"Idempotency-Key": "k"}).status_code == 201
    other_amount = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "6"}, **{"Idempotency-Key": "k"})
    as_string = api.post(TRANSFERS, {"to_user_id": str(bob.pk), "amount": "5"}, **{"Idempotency-Key": "k"})
    other_endpoint = api.post(TOP_UPS, {"amount": "5"}, **{"Idempotency-Key": "k"})
    for response in (other_amount, as_string, other_endpoint):
        assert response.status_code == 422
        assert error_of(response)["code"] == "idempotency_key_reused"
    assert balance_of(bob) == Decimal("5.00") and balance_of(alice) == Decimal("995.00")


def test_bodies_are_compared_as_parsed_json(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    api.post(TOP_UPS, raw='{"amount": 10.0, "note": [1, {"a": 2, "b": 3}]}', **{"Idempotency-Key": "k"})
    same = api.post(TOP_UPS, raw='{"note":[1,{"b":3,"a":2}],"amount":10.00}', **{"Idempotency-Key": "k"})
    assert same.status_code == 201 and same["Idempotent-Replayed"] == "true"
    assert balance_of(alice) == Decimal("1010.00")


def test_extreme_json_numbers_under_a_key_are_a_400_not_a_500(api_for: Callable[[User], Api], alice: User) -> None:
    for raw in ('{"amount": 1e999999999}', '{"amount": 1E-999999999}', '{"amount": ' + "9" * 4000 + "}"):
        response = api_for(alice).post(TOP_UPS, raw=raw, **{"Idempotency-Key": "huge"})
        assert response.status_code == 400, raw[:40]
    assert not IdempotencyKey.objects.exists()


def test_keys_are_per_user(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    assert api_for(alice).post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "shared"}).status_code == 201
    second = api_for(bob).post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "shared"})
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert balance_of(bob) == Decimal("1.00")


def test_a_recorded_refusal_is_stored_and_replayed_even_after_funds_arrive(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    first = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "1500"}, **{"Idempotency-Key": "big"})
    assert first.status_code == 422 and error_of(first)["code"] == "insufficient_funds"
    services.wallet_top_up(user=alice, amount="1000")
    retry = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "1500"}, **{"Idempotency-Key": "big"})
    assert retry.status_code == 422 and retry.json() == first.json()
    assert Transaction.objects.filter(status="FAILED").count() == 1
    assert balance_of(bob) == 0


def test_validation_failures_are_not_stored_so_the_key_can_be_reused_after_a_fix(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    bad = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "1.001"}, **{"Idempotency-Key": "fix-me"})
    unknown = api.post(TRANSFERS, {"to_user_id": 987654, "amount": "1"}, **{"Idempotency-Key": "fix-me"})
    fixed = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "1.00"}, **{"Idempotency-Key": "fix-me"})
    assert (bad.status_code, unknown.status_code, fixed.status_code) == (400, 422, 201)
    assert balance_of(bob) == Decimal("1.00")


def test_a_key_is_at_most_255_printable_characters(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    assert api.post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "x" * 255}).status_code == 201
    for key in ("x" * 256, ""):
        response = api.post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": key})
        assert response.status_code == 400, len(key)
        assert error_of(response)["fields"].keys() == {"Idempotency-Key"}
    assert balance_of(alice) == Decimal("1001.00")


def test_a_key_is_printable_ascii_the_same_in_every_decoding(api_for: Callable[[User], Api], alice: User) -> None:
    # Header bytes beyond ASCII decode differently across servers and proxies (latin-1 or UTF-8).
    api = api_for(alice)
    assert api.post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "order 7/a~b"}).status_code == 201
    for key in ("café-1", "nbsp\xa0key", "tab\tkey", " padded"):
        response = api.post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": key})
        assert response.status_code == 400, key
        assert error_of(response)["fields"].keys() == {"Idempotency-Key"}
    assert balance_of(alice) == Decimal("1001.00")


def test_the_key_record_rolls_back_with_its_movement(api_for: Callable[[User], Api], alice: User, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A crash after the key is written but before COMMIT leaves neither behind.
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("crash before commit")

    api = api_for(alice)  # before the patch: issuing a token registers an alert on commit too
    # on_commit is registered after the hook ran, still inside the money transaction.
    monkeypatch.setattr("wallets.services.transaction.on_commit", explode)
    response = api.post(TOP_UPS, {"amount": "7"}, **{"Idempotency-Key": "crash"})
    assert response.status_code == 500
    assert error_of(response)["code"] == "server_error"
    assert not IdempotencyKey.objects.exists()
    assert balance_of(alice) == Decimal("1000.00")
    assert Transaction.objects.count() == 1


# --- Racing retries on PostgreSQL: real threads, each with its own connection ------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("amount, expected_status", [("40.00", 201), ("5000.00", 422)])
def test_racing_retries_of_one_transfer_move_money_exactly_once(
    register: Callable[..., User], amount: str, expected_status: int
) -> None:
    alice, bob = register("alice", balance="1000.00"), register("bob")
    token = token_issue(user=alice)

    def retry() -> tuple[int, Any]:
        response = Api(token).post(TRANSFERS, {"to_user_id": bob.pk, "amount": amount}, **{"Idempotency-Key": "race"})
        return response.status_code, response.json()

    results = race([retry] * 8)
    assert not [r for r in results if isinstance(r, BaseException)], results
    answered = [body for status, body in results if status != 409]
    assert all(status in (expected_status, 409) for status, _ in results), results
    assert answered and all(body == answered[0] for body in answered)
    assert Transaction.objects.filter(transaction_type="TRANSFER").count() == 1
    assert IdempotencyKey.objects.count() == 1
    moved = Decimal(amount) if expected_status == 201 else Decimal("0")
    assert balance_of(bob) == moved and balance_of(alice) == Decimal("1000.00") - moved


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_retries_of_one_top_up_add_money_exactly_once(register: Callable[..., User]) -> None:
    alice = register("alice")
    token = token_issue(user=alice)

    def retry() -> int:
        return Api(token).post(TOP_UPS, {"amount": "25"}, **{"Idempotency-Key": "race"}).status_code

    statuses = race([retry] * 8)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert balance_of(alice) == Decimal("25.00")
    assert Transaction.objects.count() == 1


def test_keys_are_kept_24_hours_then_pruned(api_for: Callable[[User], Api], alice: User) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    api = api_for(alice)
    api.post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "old"})
    api.post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "recent"})
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.filter(key="recent").update(created_at=timezone.now() - timedelta(hours=23))
    call_command("prune_idempotency_keys", verbosity=0)
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]


def test_a_collision_whose_winner_is_not_visible_yet_answers_409(
    api_for: Callable[[User], Api], alice: User, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from django.db import IntegrityError

    def collide(**kwargs: Any) -> None:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr("wallets.services.wallet_top_up", collide)
    response = api_for(alice).post(TOP_UPS, {"amount": "1"}, **{"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_in_progress"


@pytest.mark.django_db
def test_the_key_table_keeps_only_the_indexes_its_queries_use() -> None:
    """Every money-moving API call inserts a key: each index is paid for on every one of them. The
    lookup (user, key) and the prune (created_at) have theirs; user_id alone is the unique index's
    leading column, and nothing searches by ledger row."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, IdempotencyKey._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"] or c["primary_key"]}
    assert indexed == {("id",), ("user_id", "key"), ("created_at",)}
