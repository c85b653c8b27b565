"""/statements/: the download form, its errors in place, the file it answers."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from ledger.models import Transaction
from wallets.models import User

PAGE = "/statements/"


@pytest.fixture
def page(asha: User, ravi: User, top_up: Callable[..., Transaction], pay: Callable[..., Transaction]) -> Client:
    top_up(asha, "100.00", date(2026, 3, 1))
    pay(asha, ravi, "12.50", date(2026, 3, 2), note="books")
    client = Client()
    client.force_login(asha)
    return client


def test_the_form_offers_this_month_so_far_and_both_formats(page: Client) -> None:
    response = page.get(PAGE)
    html = response.content.decode()
    today = timezone.localdate()
    assert response.status_code == 200
    assert "<h1>Statements</h1>" in html
    assert f'name="from" value="{today.replace(day=1).isoformat()}"' in html
    assert f'name="to" value="{today.isoformat()}"' in html
    assert 'type="date"' in html
    assert 'value="csv"' in html and 'value="pdf"' in html
    assert 'href="/statements/"' in html  # the nav link


def test_other_parameters_alone_show_the_form(page: Client) -> None:
    response = page.get(PAGE, {"utm_source": "mail"})
    assert response.status_code == 200
    assert not response.context["form"].is_bound


def test_the_form_downloads_a_csv(page: Client) -> None:
    response = page.get(PAGE, {"from": "2026-03-01", "to": "2026-03-31", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="paylane-statement-2026-03-01-to-2026-03-31.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Closing balance,87.50" in text
    assert ",TRANSFER,ravi,books,,12.50,87.50" in text


def test_the_form_downloads_a_pdf(page: Client) -> None:
    response = page.get(PAGE, {"from": "2026-03-01", "to": "2026-03-31", "format": "pdf"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages[0].extract_text()
    assert "Closing balance: INR 87.50" in text and "Page 1 of 1" in text


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01", "format": "csv"}, "to", "The period ends before it starts."),
        ({"from": "", "to": "2026-03-01", "format": "csv"}, "from", "Enter the from date as YYYY-MM-DD."),
        ({"from": "2024-01-01", "to": "2025-06-01", "format": "pdf"}, "to", "A statement covers at most 366 days."),
        ({"from": "2026-02-30", "to": "2026-03-01", "format": "csv"}, "from", "not a day of the calendar"),
        ({"from": "2026-03-01", "to": "2026-03-02", "format": "xls"}, "format", "Select a valid choice."),
    ],
)
def test_a_bad_period_shows_the_form_again_with_the_error_beside_its_field(
    page: Client, params: dict[str, str], field: str, message: str
) -> None:
    response = page.get(PAGE, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert message.replace("'", "&#x27;") in response.content.decode()


def test_both_dates_wrong_show_both_errors(page: Client) -> None:
    response = page.get(PAGE, {"from": "nope", "to": "2026-13-01", "format": "csv"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"from", "to"}


def test_the_page_counts_against_the_statement_limit(page: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_STATEMENT_RATE = "1/h"
    params = {"from": "2026-03-01", "to": "2026-03-31", "format": "csv"}
    assert page.get(PAGE, params).status_code == 200
    refused = page.get(PAGE, params)
    assert refused.status_code == 429
    assert "Too many statements asked for" in refused.content.decode()
    assert int(refused["Retry-After"]) >= 1


def test_signed_out_visitors_are_sent_to_sign_in(db: None) -> None:
    response = Client().get(PAGE, {"from": "2026-03-01", "to": "2026-03-31"})
    assert response.status_code == 302
    assert "statements" in response.url and response.url.startswith("/")
