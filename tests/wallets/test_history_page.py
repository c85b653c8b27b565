"""The history page's filters: a GET form (the URL is the bookmark), its errors beside the fields,
and the Newer/Older links that keep the filters."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from ledger import selectors as ledger_selectors
from ledger.models import Transaction
from wallets import services
from wallets.models import User

PAGE = "/transactions/"


@pytest.fixture
def carol(register: Callable[..., User]) -> User:
    return register("carol_jones", balance="50.00")


@pytest.fixture
def history(alice: User, bob: User, carol: User) -> dict[str, Transaction]:
    return {
        "rent": services.transfer_create(sender=alice, to_user_id=bob.pk, amount="300", note="Rent"),
        "coffee": services.transfer_create(sender=alice, to_user_id=carol.pk, amount="4.50", note="coffee"),
        "lunch": services.transfer_create(sender=carol, to_user_id=alice.pk, amount="12", note="lunch"),
    }


def shown(response: object) -> list[int]:
    return [entry.pk for entry in response.context["entries"]]  # type: ignore[attr-defined]


def test_the_page_has_a_get_form_with_every_filter(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.get(PAGE).content.decode()
    form = re.search(r'<form method="get" action="/transactions/"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None
    names = set(re.findall(r'name="([a-z_]+)"', form.group(1)))
    assert names == {"since", "until", "counterparty", "direction", "type", "status", "min_amount", "max_amount", "q"}
    assert "csrfmiddlewaretoken" not in form.group(1)  # a GET form: nothing to protect, the URL is the bookmark


def test_filters_in_the_url_narrow_the_history(
    client: Client, alice: User, carol: User, history: dict[str, Transaction]
) -> None:
    client.force_login(alice)
    assert shown(client.get(PAGE, {"q": "COFFEE"})) == [history["coffee"].pk]
    assert shown(client.get(PAGE, {"direction": "in", "min_amount": "10"})) == [
        history["lunch"].pk,
        Transaction.objects.get(receiver=alice, transaction_type="ADD_MONEY").pk,
    ]
    assert shown(client.get(PAGE, {"counterparty": str(carol.pk)})) == [history["lunch"].pk, history["coffee"].pk]
    assert shown(client.get(PAGE, {"q": "jones", "direction": "out"})) == [history["coffee"].pk]


def test_empty_fields_of_a_submitted_form_are_no_filter(
    client: Client, alice: User, history: dict[str, Transaction]
) -> None:
    client.force_login(alice)
    everything = shown(client.get(PAGE))
    blank = dict.fromkeys(["since", "until", "counterparty", "direction", "type", "status", "min_amount", "q"], "")
    response = client.get(PAGE, {**blank, "max_amount": " "})
    assert response.status_code == 200
    assert shown(response) == everything and len(everything) == 4


def test_the_form_shows_the_filters_it_applied(client: Client, alice: User, history: dict[str, Transaction]) -> None:
    client.force_login(alice)
    page = client.get(PAGE, {"q": "rent", "since": "2026-01-01", "status": "SUCCESS"}).content.decode()
    assert 'name="q" value="rent"' in page
    assert 'value="2026-01-01"' in page
    assert '<option value="SUCCESS" selected>' in page
    assert "Clear filters" in page


def test_nothing_matches_says_so(client: Client, alice: User, history: dict[str, Transaction]) -> None:
    client.force_login(alice)
    response = client.get(PAGE, {"q": "no such thing"})
    assert shown(response) == []
    assert "No transactions match these filters." in response.content.decode()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "2026-02-30"}, "since", "since is a date that exists"),
        ({"since": "2026-11-30", "until": "2026-11-01"}, "until", "until is a day on or after since."),
        ({"min_amount": "abc"}, "min_amount", "min_amount: Enter an amount"),
        ({"min_amount": "10", "max_amount": "5"}, "max_amount", "max_amount is at least min_amount."),
        ({"direction": "up"}, "direction", "direction is one of in, out."),
        ({"counterparty": "bob"}, "counterparty", "counterparty is a user id"),
        ({"q": "a\x01b"}, "q", "without control characters"),
        ({"q": "a\x00b"}, "q", "Null characters are not allowed."),
    ],
)
def test_a_bad_filter_is_shown_beside_its_field_and_lists_nothing(
    client: Client, alice: User, history: dict[str, Transaction], params: dict[str, str], field: str, message: str
) -> None:
    client.force_login(alice)
    response = client.get(PAGE, params)
    assert response.status_code == 400
    assert (
        response.context["form"].errors[field][0].startswith(message)
        or message in response.context["form"].errors[field][0]
    )
    page = response.content.decode()
    assert 'class="field has-error"' in page and 'class="field-error" role="alert"' in page
    assert shown(response) == [] and 'class="tx-list"' not in page


def _links(page: str) -> dict[str, dict[str, str]]:
    out = {}
    for href, rel in re.findall(r'href="(\?[^"]+)" rel="(prev|next)"', page):
        out[rel] = {k: v[0] for k, v in parse_qs(urlsplit(html.unescape(href)).query).items()}
    return out


@pytest.mark.parametrize("window", [1000, 1, 3])
def test_newer_and_older_keep_the_filters(
    client: Client, alice: User, bob: User, carol: User, settings, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:  # type: ignore[no-untyped-def]
    # On PostgreSQL a text filter reads the newest HISTORY_WINDOW rows of a side first, then the older
    # ones, both ways (Older and Newer): small windows send the pages through both parts.
    monkeypatch.setattr(ledger_selectors, "HISTORY_WINDOW", window)
    settings.PAYLANE_HISTORY_PAGE_SIZE = 2
    for n in range(5):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1", note=f"tea {n}")
        services.transfer_create(sender=alice, to_user_id=carol.pk, amount="1", note=f"tea {n}")
    client.force_login(alice)
    expected = list(Transaction.objects.filter(receiver=bob).order_by("-id").values_list("id", flat=True))
    filters = {"q": "TEA", "counterparty": str(bob.pk)}

    seen, pages, params = [], [], dict(filters)
    while True:
        response = client.get(PAGE, params)
        assert response.status_code == 200
        pages.append(shown(response))
        seen += pages[-1]
        links = _links(response.content.decode())
        if "next" not in links:
            break
        assert {k: v for k, v in links["next"].items() if k != "before"} == filters
        params = links["next"]
    assert seen == expected
    assert [len(p) for p in pages] == [2, 2, 1]
    back = client.get(PAGE, params)
    newer = _links(back.content.decode())["prev"]
    assert {k: v for k, v in newer.items() if k != "after"} == filters
    assert shown(client.get(PAGE, newer)) == pages[-2]
    assert f'href="/transactions/?counterparty={bob.pk}&amp;q=TEA">Newest</a>' in back.content.decode()
