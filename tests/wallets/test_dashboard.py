"""The dashboard as a person meets it: errors in place, readable reasons, one money format, pay again."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support.forms import form_token
from wallets import services
from wallets.errors import InvalidNote, PinRequired, WalletError
from wallets.models import User
from wallets.templatetags.reasons import reason_text

# "1,000.00 INR": a number before its currency, the old way of the error messages.
CURRENCY_AFTER = re.compile(r"[0-9] INR\b")


def from_dashboard(client: Client, action: str, data: dict[str, str]) -> Any:
    """Fill the dashboard's form for ``action`` and send it, as a click on the dashboard does."""
    html = client.get("/dashboard/").content.decode()
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, f"no form for {action} on the dashboard"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))
    fields.pop("csrfmiddlewaretoken", None)
    return client.post(action, {**fields, **data})


def errors_of(response: Any, form: str) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context[form].errors.items()}


def page_of(response: Any) -> str:
    """The template the page was rendered from (the first one; the others are its parts)."""
    return str(response.templates[0].name)


def test_the_dashboard_has_one_first_level_heading(client: Client, alice: User) -> None:
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    assert len(re.findall(r"<h1\b", html)) == 1


def test_every_dashboard_form_says_it_comes_from_the_dashboard(client: Client, alice: User) -> None:
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    forms = re.findall(r'<form method="post" action="/(?:add-money|transfer|pay-mobile)/".*?</form>', html, re.S)
    assert len(forms) == 3
    assert all('name="from" value="dashboard"' in form for form in forms)


def test_a_refused_transfer_from_the_dashboard_comes_back_on_the_dashboard_with_every_error_beside_its_field(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    before = Transaction.objects.count()
    response = from_dashboard(client, "/transfer/", {"to_user_id": "bob!", "amount": "-5", "note": "x\x07", "pin": ""})
    assert response.status_code == 400
    assert page_of(response) == "dashboard.html"
    errors = errors_of(response, "transfer_form")
    assert errors == {
        "to_user_id": ["A user id is a whole number."],
        "amount": ["The amount must be greater than zero."],
        "note": [InvalidNote.default_message],
        "pin": [PinRequired.default_message],
    }
    html = response.content.decode()
    assert 'id="balance">INR 1,000.00<' in html  # the balance stays in view
    # Each error sits in the field's own block, under its input.
    for name in ("to_user_id", "amount", "note", "pin"):
        block = re.search(rf'<div class="field has-error">\s*<label for="id_{name}">.*?</div>', html, re.S)
        assert block and 'class="field-error"' in block.group(0), name
    assert Transaction.objects.count() == before


def test_a_refused_transfer_keeps_what_was_typed_but_never_the_pin(client: Client, alice: User, bob: User) -> None:
    client.force_login(alice)
    response = from_dashboard(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "abc", "pin": PIN})
    html = response.content.decode()
    assert response.status_code == 400
    assert f'value="{bob.pk}"' in html and 'value="abc"' in html
    assert PIN not in re.sub(r'name="form_token" value="[^"]*"', "", html)


def test_a_service_refusal_from_the_dashboard_shows_there_too_in_the_one_money_format(
    client: Client, alice: User, bob: User
) -> None:
    client.force_login(alice)
    response = from_dashboard(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5000", "pin": PIN})
    assert response.status_code == 400
    assert page_of(response) == "dashboard.html"
    (message,) = errors_of(response, "transfer_form")["amount"]
    assert message.startswith("Insufficient funds: your balance is INR 1,000.00.")
    html = response.content.decode()
    assert "failed: insufficient funds" in html  # the recorded attempt, in the recent list, spaced
    assert not CURRENCY_AFTER.search(html)


def test_add_money_and_pay_mobile_refused_from_the_dashboard_stay_on_the_dashboard(client: Client, alice: User) -> None:
    client.force_login(alice)
    added = from_dashboard(client, "/add-money/", {"amount": "1.234"})
    paying = from_dashboard(client, "/pay-mobile/", {"mobile_number": "12", "amount": "0", "note": ""})
    assert added.status_code == paying.status_code == 400
    assert page_of(added) == "dashboard.html"
    assert page_of(paying) == "dashboard.html"
    assert errors_of(added, "add_money_form") == {"amount": ["Use at most 2 decimal places."]}
    assert set(errors_of(paying, "pay_mobile_form")) == {"mobile_number", "amount"}
    assert balance_of(alice) == Decimal("1000.00")


def test_the_same_forms_on_their_own_pages_still_answer_there(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.get("/add-money/").content.decode()
    response = client.post("/add-money/", {"amount": "-1", "form_token": form_token(page)})
    assert response.status_code == 400
    assert page_of(response) == "add_money.html"


def test_a_good_review_from_the_dashboard_goes_on_to_the_confirmation(client: Client, alice: User, bob: User) -> None:
    client.force_login(alice)
    response = from_dashboard(client, "/pay-mobile/", {"mobile_number": "+919812345678", "amount": "5", "note": ""})
    assert response.status_code == 200
    assert page_of(response) == "pay_mobile_confirm.html"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("daily_limit_exceeded", "daily limit exceeded"),
        ("insufficient_funds", "insufficient funds"),
        ("", "refused"),
        (None, "refused"),
    ],
)
def test_failure_reasons_read_as_words(code: str | None, text: str) -> None:
    assert reason_text(code) == text


def test_a_failed_payment_over_the_daily_limit_reads_daily_limit_exceeded_in_history(
    client: Client, register: Callable[..., User], bob: User
) -> None:
    rich = register("rich", balance="100000.00")
    services.wallet_top_up(user=rich, amount="100000.00")
    services.transfer_create(sender=rich, to_user_id=bob.pk, amount="99000.00")
    with pytest.raises(WalletError) as refused:
        services.transfer_create(sender=rich, to_user_id=bob.pk, amount="2000.00")
    assert "daily limit of INR 100,000.00: INR 1,000.00 left today." in refused.value.message
    client.force_login(rich)
    html = client.get("/transactions/").content.decode()
    assert "failed: daily limit exceeded" in html
    assert "dailylimitexceeded" not in html


def test_the_top_up_maximum_is_said_in_the_one_money_format(alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WalletError) as refused:
        services.wallet_top_up(user=alice, amount="100000.01")
    assert refused.value.message == "A single top-up may add at most INR 100,000.00."


def test_the_live_script_spaces_reasons_and_formats_money_with_the_shared_function() -> None:
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "static" / "js"
    live = (static / "wallet-live.js").read_text()
    assert '.replace(/_/g, "")' not in live
    assert 'split("_").join(" ")' in live
    assert "window.PaylaneMoney.format" in live


def test_pay_again_opens_the_transfer_form_with_the_payee_filled_in(client: Client, alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    client.force_login(alice)
    dashboard = client.get("/dashboard/").content.decode()
    assert f'href="/transfer/?to={bob.pk}"' in dashboard
    page = client.get(f"/transfer/?to={bob.pk}").content.decode()
    assert re.search(rf'name="to_user_id" value="{bob.pk}"', page)
    ignored = client.get("/transfer/?to=drop%20table").content.decode()
    assert not re.search(r'name="to_user_id" value=', ignored)


def test_the_dashboard_hands_its_figures_to_the_script_as_data_not_code(client: Client, alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    block = re.search(r'<script id="insights-data" type="application/json">(.*?)</script>', html, re.S)
    assert block
    data = json.loads(block.group(1))
    assert data["balances"][-1]["balance"] == "990.00"
    assert data["payees"] == [{"user_id": bob.pk, "username": "bob"}]
    assert data["counterparties"] == [{"user_id": bob.pk, "username": "bob", "in": "0.00", "out": "10.00"}]


def test_the_dashboard_shows_requests_to_pay_after_the_balance_and_has_a_live_notice(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    assert html.index("dash-balance") < html.index('id="pending-requests"') < html.index("dash-forms")
    assert re.search(r'<div id="live-notice" class="live-notice" role="status" aria-live="polite"', html)


def test_the_dashboard_reads_a_bounded_number_of_queries(client: Client, alice: User, bob: User) -> None:
    from django.db import connection

    for amount in ("1.00", "2.00", "3.00"):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    client.force_login(alice)
    client.get("/dashboard/")
    with CaptureQueriesContext(connection) as few:
        client.get("/dashboard/")
    for amount in ("4.00", "5.00", "6.00", "7.00"):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    with CaptureQueriesContext(connection) as more:
        client.get("/dashboard/")
    assert len(more) == len(few)
