from __future__ import annotations

import pytest

from wallets import services
from wallets.errors import InsufficientFunds
from wallets.models import User
from wallets.payloads import transaction_payload


def test_the_transaction_object_has_string_amounts_and_an_offset_timestamp(alice: User, bob: User) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="12.5")
    payload = transaction_payload(entry)
    assert payload == {
        "id": entry.pk,
        "type": "TRANSFER",
        "status": "SUCCESS",
        "amount": "12.50",
        "currency": "INR",
        "sender": {"user_id": alice.pk, "username": "alice"},
        "receiver": {"user_id": bob.pk, "username": "bob"},
        "failure_reason": None,
        "created_at": payload["created_at"],
        "note": None,
        "corrects": None,
        "request": None,
    }
    assert payload["created_at"].endswith("+05:30")


def test_a_top_up_has_no_sender_and_a_failed_attempt_names_its_reason(alice: User, bob: User) -> None:
    top_up = services.wallet_top_up(user=bob, amount="1")
    assert transaction_payload(top_up)["sender"] is None
    with pytest.raises(InsufficientFunds) as refused:
        services.transfer_create(sender=bob, to_user_id=alice.pk, amount="2")
    assert refused.value.transaction is not None
    failed = transaction_payload(refused.value.transaction)
    assert (failed["status"], failed["failure_reason"]) == ("FAILED", "insufficient_funds")


def test_the_payload_of_a_fresh_entry_needs_no_query(alice: User, bob: User, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    transfer = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    top_up = services.wallet_top_up(user=bob, amount="1")
    with django_assert_num_queries(0):
        transaction_payload(transfer)
        transaction_payload(top_up)
