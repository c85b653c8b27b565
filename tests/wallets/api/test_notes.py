"""A note on `POST /api/v1/transfers/`: kept in the ledger row, in the answer and the history; a bad one is a 400."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ledger.models import Transaction
from tests.conftest import balance_of
from tests.wallets.api.conftest import TRANSFERS, Api
from wallets.models import User

# --- The API --------------------------------------------------------------------------------------


def test_a_transfer_carries_its_note_into_the_ledger_row_the_answer_and_the_history(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    paid = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5", "note": " rent, November "})

    assert paid.status_code == 201, paid.json()
    assert paid.json()["note"] == "rent, November" and paid.json()["corrects"] is None
    assert Transaction.objects.get(pk=paid.json()["id"]).note == "rent, November"
    seen_by_bob = api_for(bob).get("/api/v1/transactions/").json()["results"][0]
    assert seen_by_bob["note"] == "rent, November"
    top_up = api.get("/api/v1/transactions/").json()["results"][-1]
    assert top_up["type"] == "ADD_MONEY" and top_up["note"] is None


@pytest.mark.parametrize("bad", ["x" * 81, "two\nlines", "\u202eevil", 42])
def test_a_bad_note_is_a_400_naming_the_note_and_records_nothing(
    api_for: Callable[[User], Api], alice: User, bob: User, bad: object
) -> None:
    before = Transaction.objects.count()
    refused = api_for(alice).post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5", "note": bad})

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "validation_error"
    assert "note" in refused.json()["error"]["fields"]
    assert Transaction.objects.count() == before and balance_of(bob) == Decimal("0.00")
