"""Payee confirmation's service: masked names, the lookup and its limit (wallets/accounts/payees.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wallets import services
from wallets.accounts import payees
from wallets.errors import PayeeNotFound, RateLimited, RecipientNotFound, RecipientUnclear, ValidationFailed
from wallets.models import User


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Bobi Khan", "Bo** K***"),  # the example
        ("Bobby Kumar", "Bo*** K****"),
        ("Bob Li", "Bo* L*"),
        ("Asha", "As**"),
        ("Al", "A*"),
        ("K", "K"),
        ("Mary Ann  Lee", "Ma** A** L**"),
        ("Zoë Çelik", "Zo* Ç****"),
        ("", ""),
    ],
)
def test_the_first_part_of_a_name_keeps_two_letters_and_each_later_part_one(name: str, masked: str) -> None:
    assert payees.name_mask(name) == masked


def test_without_a_first_or_last_name_payers_see_the_username_masked() -> None:
    assert payees.display_name(username="alice", first_name="", last_name="") == "al***"
    assert payees.display_name(username="alice", first_name="Asha", last_name="") == "As**"
    assert payees.display_name(username="alice", first_name=" ", last_name="Rao") == "Ra*"


def test_a_name_set_later_is_what_payers_see(alice: User, bob: User) -> None:
    assert payees.recipient_lookup(viewer=bob, user_id=alice.pk).display_name == "al***"
    name = payees.display_name_set(user=alice, first_name="  Asha   Devi ", last_name="Rao")
    assert (name.first_name, name.last_name, name.masked) == ("Asha Devi", "Rao", "As** D*** R**")
    assert payees.recipient_lookup(viewer=bob, mobile_number="98765 43210") == payees.Payee(alice.pk, "As** D*** R**")
    with pytest.raises(ValidationFailed) as too_long:
        payees.display_name_set(user=alice, first_name="x" * 151, last_name="")
    assert too_long.value.field == "first_name"


def test_a_name_given_at_sign_up_is_masked_for_payers(register: Callable[..., User], bob: User) -> None:
    asha = register("asha", first_name="Asha", last_name="Kumar")
    assert payees.recipient_lookup(viewer=bob, user_id=str(asha.pk)).display_name == "As** K****"


def test_unknown_unverified_and_inactive_accounts_are_not_found_alike(
    alice: User, register: Callable[..., User]
) -> None:
    unverified = register("uma", mobile="+919800000301", verify=False)
    inactive = register("ian", mobile="+919800000302")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    answers = []
    for lookup in (
        {"mobile_number": "+919800000300"},
        {"mobile_number": "+919800000301"},
        {"mobile_number": "+919800000302"},
        {"user_id": unverified.pk},
        {"user_id": inactive.pk},
        {"user_id": 10**9},
        {"user_id": "0"},
    ):
        with pytest.raises(PayeeNotFound) as missing:
            payees.recipient_lookup(viewer=alice, **lookup)
        answers.append((missing.value.code, missing.value.http_status))
    assert set(answers) == {("recipient_not_found", 404)}


def test_a_lookup_names_exactly_one_of_a_number_and_an_id(alice: User, bob: User) -> None:
    for lookup in ({}, {"mobile_number": "+919812345678", "user_id": bob.pk}, {"mobile_number": " "}):
        with pytest.raises(RecipientUnclear):
            payees.recipient_lookup(viewer=alice, **lookup)


def test_lookups_and_payments_by_number_share_one_limit_where_only_misses_count(
    alice: User, bob: User, settings: Any
) -> None:
    settings.PAYLANE_RECIPIENT_LOOKUP_RATE = "3/h"
    for _ in range(5):  # hits are given back
        assert payees.recipient_lookup(viewer=alice, mobile_number="+919812345678").user_id == bob.pk
    with pytest.raises(PayeeNotFound):
        payees.recipient_lookup(viewer=alice, mobile_number="+919800000401")
    with pytest.raises(RecipientNotFound):
        services.transfer_create(sender=alice, to_mobile="+919800000402", amount="1")
    with pytest.raises(PayeeNotFound):
        payees.recipient_lookup(viewer=alice, user_id=10**9)

    # Over the limit: every lookup, and every payment by number, is refused before anything is looked up.
    for refused in (
        lambda: payees.recipient_lookup(viewer=alice, mobile_number="+919812345678"),
        lambda: payees.recipient_lookup(viewer=alice, user_id=bob.pk),
        lambda: services.transfer_create(sender=alice, to_mobile="+919812345678", amount="1"),
    ):
        with pytest.raises(RateLimited):
            refused()
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")  # paying by id is not a lookup
