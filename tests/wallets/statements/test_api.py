"""GET /api/v1/statements/: the caller's statement as a CSV download; bad periods are 400 with a code."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ledger.models import Transaction
from tests.wallets.api.conftest import Api, error_of
from wallets.models import User

URL = "/api/v1/statements/"


@pytest.fixture
def ravi(register: Callable[..., User]) -> User:  # with a full name, unlike conftest's
    return register("ravi", mobile="+919812345678", first_name="Ravi", last_name="Kumar")


@pytest.fixture
def march(asha: User, ravi: User, top_up: Callable[..., Transaction], pay: Callable[..., Transaction]) -> None:
    top_up(asha, "500.00", date(2026, 2, 10))
    top_up(asha, "1234.50", date(2026, 3, 1), hour=9)
    pay(asha, ravi, "30.00", date(2026, 3, 5), note="lunch, with a comma")
    pay(ravi, asha, "10.00", date(2026, 3, 6), note='=HYPERLINK("x")')
    pay(asha, ravi, "4.25", date(2026, 3, 7), note="chai ☕ नमस्ते")


def csv_of(response: object) -> tuple[dict[str, list[str]], list[list[str]]]:
    """(the figures by label, the entry rows under the header) of a statement CSV."""
    raw = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    blank = rows.index([])
    figures = {row[0]: row[1:] for row in rows[:blank]}
    assert rows[blank + 1] == ["id", "time", "type", "counterparty", "note", "amount_in", "amount_out", "balance_after"]
    return figures, rows[blank + 2 :]


@pytest.mark.usefixtures("march")
def test_a_statement_downloads_as_csv_with_its_figures_first_and_its_entries_after(
    api_for: Callable[[User], Api], asha: User
) -> None:
    response = api_for(asha).get(URL, {"from": "2026-03-01", "to": "2026-03-31", "format": "csv"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="paylane-statement-2026-03-01-to-2026-03-31.csv"'
    assert response["Cache-Control"] == "private, no-store"
    figures, entries = csv_of(response)
    assert figures["Account"] == ["Asha Rao"]
    # A leading + would run as a formula in a spreadsheet: the export's guard quotes it.
    assert figures["Mobile"] == ["'+91******3210"]
    assert (figures["Period from"], figures["Period to"]) == (["2026-03-01"], ["2026-03-31"])
    assert figures["Opening balance"] == ["500.00"]
    assert (figures["Total in"], figures["Total out"]) == (["1244.50"], ["34.25"])
    assert figures["Closing balance"] == ["1710.25"]
    assert figures["Seal"] == ["not sealed yet"]
    assert [row[2:] for row in entries] == [
        ["ADD_MONEY", "", "", "1234.50", "", "1734.50"],
        ["TRANSFER", "ravi", "lunch, with a comma", "", "30.00", "1704.50"],
        ["TRANSFER", "ravi", '\'=HYPERLINK("x")', "10.00", "", "1714.50"],
        ["TRANSFER", "ravi", "chai ☕ नमस्ते", "", "4.25", "1710.25"],
        ["", "", "Totals", "1244.50", "34.25", "1710.25"],
    ]
    assert entries[0][1] == "2026-03-01 09:00:00"


@pytest.mark.usefixtures("march")
def test_format_defaults_to_csv(api_for: Callable[[User], Api], asha: User) -> None:
    response = api_for(asha).get(URL, {"from": "2026-03-01", "to": "2026-03-31"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")


@pytest.mark.usefixtures("march")
def test_a_statement_holds_only_the_callers_entries(api_for: Callable[[User], Api], ravi: User) -> None:
    figures, entries = csv_of(api_for(ravi).get(URL, {"from": "2026-03-01", "to": "2026-03-31"}))
    assert figures["Account"] == ["Ravi Kumar"]
    assert [row[3] for row in entries[:-1]] == ["asha", "asha", "asha"]
    assert figures["Closing balance"] == ["24.25"]


def test_a_statement_needs_a_signed_in_caller() -> None:
    response = Api().get(URL, {"from": "2026-03-01", "to": "2026-03-31"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2026-03-31"}, "from"),
        ({"from": "2026-03-01"}, "to"),
        ({"from": "2026-3-1", "to": "2026-03-31"}, "from"),
        ({"from": "20260301", "to": "2026-03-31"}, "from"),
        ({"from": "2026-02-30", "to": "2026-03-31"}, "from"),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "to"),
        ({"from": "1999-12-31", "to": "2000-01-31"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "\u0662\u0660\u0662\u0666-03-01", "to": "2026-03-31"}, "from"),  # Arabic-Indic digits
    ],
)
def test_a_bad_period_is_refused_with_invalid_period_naming_the_parameter(
    api_for: Callable[[User], Api], asha: User, params: dict[str, str], field: str
) -> None:
    response = api_for(asha).get(URL, params)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_period"
    assert list(error["fields"]) == [field]


def test_a_period_that_ends_after_today_is_refused(api_for: Callable[[User], Api], asha: User) -> None:
    today = timezone.localdate()
    tomorrow = (today + timedelta(days=1)).isoformat()
    response = api_for(asha).get(URL, {"from": today.isoformat(), "to": tomorrow})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_period"
    assert api_for(asha).get(URL, {"from": today.isoformat(), "to": today.isoformat()}).status_code == 200


def test_a_year_with_its_leap_day_is_the_longest_period(api_for: Callable[[User], Api], asha: User) -> None:
    assert api_for(asha).get(URL, {"from": "2024-01-01", "to": "2024-12-31"}).status_code == 200
    assert api_for(asha).get(URL, {"from": "2024-01-01", "to": "2025-01-01"}).status_code == 400


@pytest.mark.parametrize("fmt", ["xlsx", "CSV", "json"])
def test_an_unknown_format_is_refused(api_for: Callable[[User], Api], asha: User, fmt: str) -> None:
    response = api_for(asha).get(URL, {"from": "2026-03-01", "to": "2026-03-31", "format": fmt})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["fields"])) == ("validation_error", ["format"])


def test_errors_are_json_whatever_the_client_accepts(api_for: Callable[[User], Api], asha: User) -> None:
    response = api_for(asha).get(URL, {"from": "2026-03-31", "to": "2026-03-01"}, Accept="text/csv")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_period"


def test_statements_are_rate_limited_per_user(api_for: Callable[[User], Api], asha: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_STATEMENT_RATE = "2/h"
    client = api_for(asha)
    params = {"from": "2026-03-01", "to": "2026-03-31"}
    assert [client.get(URL, params).status_code for _ in range(3)] == [200, 200, 429]
    refused = client.get(URL, params)
    assert error_of(refused)["code"] == "rate_limited" and int(refused["Retry-After"]) >= 1


def test_a_refused_period_does_not_count_against_the_limit(
    api_for: Callable[[User], Api], asha: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_STATEMENT_RATE = "1/h"
    client = api_for(asha)
    assert client.get(URL, {"from": "2026-03-31", "to": "2026-03-01"}).status_code == 400
    assert client.get(URL, {"from": "2026-03-01", "to": "2026-03-31"}).status_code == 200


@pytest.mark.django_db
@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.one_of(st.none(), st.dates().map(date.isoformat), st.text(max_size=12)),
    last=st.one_of(st.none(), st.dates().map(date.isoformat), st.text(max_size=12)),
    fmt=st.one_of(st.none(), st.sampled_from(["csv", "pdf"]), st.text(max_size=5)),
)
def test_any_query_is_a_statement_or_a_400_never_a_500(
    api_for: Callable[[User], Api], asha: User, settings: Any, first: str | None, last: str | None, fmt: str | None
) -> None:
    settings.PAYLANE_STATEMENT_RATE = "1000000/s"
    params = {name: value for name, value in (("from", first), ("to", last), ("format", fmt)) if value is not None}
    response = api_for(asha).get(URL, params)
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert error_of(response)["code"] in ("invalid_period", "validation_error")
