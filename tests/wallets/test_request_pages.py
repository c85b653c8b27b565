"""The money-request pages: /requests/ (ask; incoming with Pay and Decline; outgoing with Cancel) and the
dashboard's "Requests for you" list (templates/partials/pending_requests.html)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.test import Client

from tests.conftest import PIN, balance_of
from tests.support.forms import form_token
from wallets import money_requests
from wallets.models import IdempotencyKey, MoneyRequest, User


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pay_form(html: str, request_id: int) -> dict[str, str]:
    """The hidden fields of the Pay form of request ``request_id`` on a page."""
    form = re.search(rf'action="/requests/{request_id}/pay/".*?</form>', html, re.S)
    assert form, f"no Pay form for request {request_id}"
    back = re.search(r'name="next" value="(\w+)"', form.group(0))
    assert back
    return {"form_token": form_token(form.group(0)), "next": back.group(1)}


def test_asking_on_the_page_makes_a_pending_request(alice: User, bob: User) -> None:
    client = signed_in(bob)
    page = client.get("/requests/")
    assert page.status_code == 200 and "Ask for money" in page.content.decode()
    sent = client.post("/requests/", {"to_mobile": "+919876543210", "amount": "12.50", "note": "tickets"})
    assert sent.status_code == 302
    made = MoneyRequest.objects.get()
    assert (made.payer_id, made.amount, made.note, made.status) == (alice.pk, Decimal("12.50"), "tickets", "PENDING")
    listed = client.get("/requests/").content.decode()
    assert "You asked alice for INR 12.50" in listed and f'action="/requests/{made.pk}/cancel/"' in listed


def test_asking_errors_show_beside_their_fields(alice: User, bob: User, register) -> None:  # type: ignore[no-untyped-def]
    carol = register("carol", verify=False)
    client = signed_in(bob)
    unknown = client.post("/requests/", {"to_user_id": str(carol.pk), "amount": "5"})
    assert unknown.status_code == 400
    html = unknown.content.decode()
    assert re.search(r'field has-error">\s*<label for="id_to_user_id"', html)
    neither = client.post("/requests/", {"amount": "x"})
    assert neither.status_code == 400 and "one of them" in neither.content.decode()
    assert not MoneyRequest.objects.exists()


def test_the_dashboard_lists_pending_requests_with_pay_and_decline(alice: User, bob: User) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="30", note="lunch")
    html = signed_in(alice).get("/dashboard/").content.decode()
    assert "bob asks for INR 30.00" in html and "lunch" in html
    assert f'action="/requests/{made.pk}/pay/"' in html and f'action="/requests/{made.pk}/decline/"' in html
    assert 'name="pin"' in html and 'name="form_token"' in html
    assert "requests-live.js" in html and "<script>" not in html  # no inline script (CSP)
    # The requester's own dashboard does not offer to pay it.
    assert f"/requests/{made.pk}/pay/" not in signed_in(bob).get("/dashboard/").content.decode()


def test_paying_from_the_dashboard_pays_once_per_form(alice: User, bob: User) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="30")
    client = signed_in(alice)
    fields = {**pay_form(client.get("/dashboard/").content.decode(), made.pk), "pin": PIN}
    first = client.post(f"/requests/{made.pk}/pay/", fields)
    assert first.status_code == 302 and first["Location"] == "/dashboard/"
    again = client.post(f"/requests/{made.pk}/pay/", fields)  # a double click: the same token
    assert again.status_code == 302
    made.refresh_from_db()
    assert made.status == "PAID" and balance_of(bob) == Decimal("30.00")
    assert IdempotencyKey.objects.filter(endpoint=f"page:rq_pay:{made.pk}").count() == 1
    assert "bob asks for" not in client.get("/dashboard/").content.decode()


def test_a_wrong_pin_shows_beside_the_request_and_pays_nothing(alice: User, bob: User) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="30")
    client = signed_in(alice)
    fields = {**pay_form(client.get("/requests/").content.decode(), made.pk), "pin": "1111"}
    refused = client.post(f"/requests/{made.pk}/pay/", fields)
    assert refused.status_code == 400
    assert re.search(rf'data-request="{made.pk}".*?That PIN is not right', refused.content.decode(), re.S)
    made.refresh_from_db()
    assert made.status == "PENDING" and balance_of(bob) == 0


def test_decline_and_cancel_on_the_page(alice: User, bob: User) -> None:
    one = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="1")
    two = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="2")
    assert signed_in(alice).post(f"/requests/{one.pk}/decline/", {"next": "dashboard"})["Location"] == "/dashboard/"
    assert signed_in(bob).post(f"/requests/{two.pk}/cancel/", {"next": "requests"})["Location"] == "/requests/"
    assert dict(MoneyRequest.objects.values_list("id", "status")) == {one.pk: "DECLINED", two.pk: "CANCELLED"}
    # The wrong party, or a closed request: refused on the page (400, as every refused form), nothing changes.
    wrong = signed_in(alice).post(f"/requests/{two.pk}/cancel/")
    assert wrong.status_code == 400 and "Only the person who asked" in wrong.content.decode()
    closed = signed_in(alice).post(f"/requests/{one.pk}/decline/")
    assert closed.status_code == 400 and "This request is closed" in closed.content.decode()


def test_request_pages_need_a_signed_in_user_and_csrf(alice: User, bob: User) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="1")
    assert Client().get("/requests/").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(f"/requests/{made.pk}/decline/").status_code == 403
    made.refresh_from_db()
    assert made.status == "PENDING"
