"""Wallet admin: balances are never editable; a daily-limit change goes through the service and is recorded."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from ledger.models import AppendOnlyError, DailyLimitChange
from wallets import services
from wallets.models import User, Wallet


def change_url(user: User) -> str:
    return reverse("admin:wallets_wallet_change", args=[user.wallet.pk])


def form(**fields: str) -> dict[str, str]:
    """The wallet change form as the browser posts it (with the read-only inline's management form)."""
    inline = {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "0"}
    return {**{f"daily_limit_changes-{k}": v for k, v in inline.items()}, **fields}


def test_a_daily_limit_change_in_admin_is_recorded_with_who_when_and_from_what(
    admin_client: Client, admin_user: User, alice: User
) -> None:
    response = admin_client.post(change_url(alice), form(daily_limit="250.00"))
    assert response.status_code == 302
    alice.wallet.refresh_from_db()
    assert alice.wallet.daily_limit == Decimal("250.00")
    change = DailyLimitChange.objects.get(wallet=alice.wallet)
    assert (change.changed_by, change.old_limit, change.new_limit) == (admin_user, None, Decimal("250.00"))

    admin_client.post(change_url(alice), form(daily_limit=""))
    latest = DailyLimitChange.objects.filter(wallet=alice.wallet).first()
    assert latest is not None and (latest.old_limit, latest.new_limit) == (Decimal("250.00"), None)


def test_balances_posted_to_the_wallet_admin_are_ignored(admin_client: Client, alice: User) -> None:
    admin_client.post(change_url(alice), form(daily_limit="", balance="999999.00", version="0", spent_today="0"))
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.version) == (Decimal("1000.00"), 1)
    assert not DailyLimitChange.objects.exists()  # nothing changed, nothing recorded


def test_the_wallet_admin_shows_balances_read_only_and_the_limit_history(
    admin_client: Client, admin_user: User, alice: User
) -> None:
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=Decimal("75.00"), actor=admin_user)
    page = admin_client.get(change_url(alice))
    form = page.context["adminform"].form
    assert list(form.fields) == ["daily_limit"]
    assert b"75.00" in page.content
    assert admin_user.username.encode() in page.content


def test_a_negative_limit_is_refused_in_admin_and_nothing_is_recorded(admin_client: Client, alice: User) -> None:
    response = admin_client.post(change_url(alice), form(daily_limit="-1"))
    assert response.status_code == 200  # the form again, with the error
    assert not DailyLimitChange.objects.exists()


def test_wallet_set_daily_limit_records_the_acting_user(alice: User, bob: User) -> None:
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=Decimal("10.00"), actor=bob)
    change = DailyLimitChange.objects.get()
    assert (change.wallet_id, change.changed_by_id, change.new_limit) == (alice.wallet.pk, bob.pk, Decimal("10.00"))


def test_a_daily_limit_record_cannot_be_changed(alice: User) -> None:
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=Decimal("10.00"), actor=alice)
    change = DailyLimitChange.objects.get()
    change.new_limit = Decimal("1.00")
    with pytest.raises(AppendOnlyError):
        change.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_dailylimitchange SET new_limit = 1")
    assert DailyLimitChange.objects.get().new_limit == Decimal("10.00")


def test_a_change_posted_back_with_the_history_shown_is_recorded_and_leaves_the_history_alone(
    admin_client: Client, admin_user: User, alice: User
) -> None:
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=Decimal("75.00"), actor=alice)
    page = admin_client.get(change_url(alice)).content.decode()
    # Everything the browser would send back: the hidden inputs, as rendered.
    posted = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert posted["daily_limit_changes-INITIAL_FORMS"] == "1"
    response = admin_client.post(change_url(alice), {**posted, "daily_limit": "80.00"})
    assert response.status_code == 302
    history = list(DailyLimitChange.objects.filter(wallet=alice.wallet).values_list("new_limit", "changed_by"))
    assert history == [(Decimal("80.00"), admin_user.pk), (Decimal("75.00"), alice.pk)]
