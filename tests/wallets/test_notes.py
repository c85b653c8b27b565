"""Notes: what a payment is for, at most 80 characters without control characters, kept in the ledger row.

On the API (``"note"`` on ``POST /api/v1/transfers/``) and the pages (the transfer and pay-by-mobile forms),
in the transaction object (history, websocket frames), the CSV export, and under the row's hash.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from ledger import hashing
from ledger.models import Transaction
from ledger.reconcile import ledger_reconcile
from tests.conftest import PIN, balance_of
from tests.ledger.test_tamper import checks, tamper
from tests.support.forms import form_token, submit
from wallets import services
from wallets.errors import InvalidNote
from wallets.models import User
from wallets.notes import note_clean
from wallets.payloads import transaction_payload

# --- The rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("  rent, November ", "rent, November"),
        ("é" * 80, "é" * 80),
        ("🎉 party", "🎉 party"),
    ],
)
def test_a_note_is_stored_without_the_spaces_around_it(sent: object, stored: str) -> None:
    assert note_clean(sent) == stored


@pytest.mark.parametrize(
    "bad",
    ["x" * 81, " " * 81, "line\nbreak", "tab\there", "nul\x00", "del\x7f", "c1\x85", "rtl\u202eevil", "\u2066", 7],
)
def test_a_note_too_long_with_a_control_character_or_not_text_is_refused(bad: object) -> None:
    with pytest.raises(InvalidNote):
        note_clean(bad)


def test_a_refused_transfer_keeps_its_note_on_the_failed_row(alice: User, bob: User) -> None:
    with pytest.raises(Exception) as refused:
        services.transfer_create(sender=bob, to_user_id=alice.pk, amount="5", note="too much")
    failed = refused.value.transaction  # type: ignore[attr-defined]
    assert (failed.status, failed.note) == ("FAILED", "too much")
    assert transaction_payload(failed)["note"] == "too much"


# --- The pages ------------------------------------------------------------------------------------


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_transfer_form_takes_a_note_and_the_history_shows_it(alice: User, bob: User) -> None:
    client = signed_in(alice)
    done = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5", "note": "lunch <b>today</b>"})

    assert done.status_code == 302
    assert Transaction.objects.filter(transaction_type="TRANSFER").get().note == "lunch <b>today</b>"
    history = signed_in(bob).get("/transactions/").content.decode()
    assert '<span class="tx-note">lunch &lt;b&gt;today&lt;/b&gt;</span>' in history  # escaped, never markup


def test_pay_by_mobile_shows_the_note_on_the_confirmation_and_pays_with_it(alice: User, bob: User) -> None:
    client = signed_in(alice)
    review = client.post(
        "/pay-mobile/", {"step": "review", "mobile_number": "+919812345678", "amount": "7", "note": "cab"}
    )
    page = review.content.decode()
    assert '<dd id="payment-note">cab</dd>' in page and 'name="note" value="cab"' in page

    paid = client.post(
        "/pay-mobile/",
        {"mobile_number": "+919812345678", "amount": "7.00", "note": "cab", "pin": PIN, "form_token": form_token(page)},
    )
    assert paid.status_code == 302
    assert Transaction.objects.filter(transaction_type="TRANSFER").get().note == "cab"


def test_a_bad_note_on_a_page_is_shown_beside_the_note_field_and_moves_nothing(alice: User, bob: User) -> None:
    client = signed_in(alice)
    refused = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5", "note": "x" * 81})
    review = client.post(
        "/pay-mobile/", {"step": "review", "mobile_number": "+919812345678", "amount": "7", "note": "a\tb"}
    )

    for response in (refused, review):
        assert response.status_code == 400
        assert "A note is at most 80 characters" in response.content.decode()
    assert balance_of(bob) == Decimal("0.00")


# --- The ledger: hashed, exported ---------------------------------------------------------------


def test_a_note_is_part_of_the_rows_hash_so_an_edited_note_is_found(alice: User, bob: User) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5", note="rent")
    assert ledger_reconcile() == []
    tamper("UPDATE ledger_transaction SET note = 'gift' WHERE id = %s", [entry.pk])
    assert checks(ledger_reconcile())["row_hash"] == [f"ledger row {entry.pk}"]


def test_a_row_without_a_note_hashes_as_rows_did_before_notes_existed(alice: User, bob: User) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5")
    before_notes = {name: getattr(entry, name) for name in hashing.ROW_FIELDS}  # the first form's fields only
    assert entry.row_hash == hashing.row_hash_compute(before_notes)
    noted = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5", note="rent")
    assert noted.row_hash != hashing.row_hash_compute({name: getattr(noted, name) for name in hashing.ROW_FIELDS})


def test_the_csv_export_has_the_note_and_the_corrected_entry_as_its_last_columns(alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5", note="rent, November")
    out = io.StringIO()
    call_command("export_ledger", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][-2:] == ["note", "corrects_id"]
    assert rows[-1][-2:] == ["rent, November", ""]
