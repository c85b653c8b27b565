"""The dashboard in headless Chromium, on a phone and on a desktop: the notice for money received, the
offline countdown, recent activity first on a phone, the insights drawn and kept live, the screenshots.

docs/screenshots/dashboard-*.png and history-*.png are written by these tests when
PAYLANE_UPDATE_SCREENSHOT is set (otherwise into the test's temporary folder, so a run leaves the tree
clean): ``PAYLANE_UPDATE_SCREENSHOT=1 make test-postgres PYTEST_ARGS=tests/realtime/test_dashboard_browser.py``.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from ledger.models import Transaction
from tests.conftest import PIN
from tests.realtime.test_browser import chromium, wait_live  # noqa: F401  (the chromium fixture)
from tests.support.live import Daphne, daphne, session_key
from wallets import services
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

try:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - requirements.txt pins selenium
    pytestmark.append(pytest.mark.skip(reason="selenium is not installed: run `make setup`"))

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = (390, 844)
DESKTOP = (1280, 900)


def open_as(request: pytest.FixtureRequest, server: Daphne, user: User, size: tuple[int, int], path: str) -> Any:
    """A fresh headless browser with ``user`` signed in, its viewport exactly ``size`` (a phone: mobile)."""
    driver = request.getfixturevalue("chromium")()
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get(server.http + "/static/css/paylane.css")
    driver.add_cookie({"name": "sessionid", "value": session_key(user), "path": "/"})
    driver.get(server.http + path)
    return driver


def full_page_png(driver: Any, path: Path) -> None:
    """The whole page, not only the viewport (Chromium's DevTools screenshot beyond the viewport)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def screenshot_path(tmp_path: Path, name: str) -> Path:
    return (SCREENSHOTS if os.environ.get("PAYLANE_UPDATE_SCREENSHOT") else tmp_path) / name


def top(driver: Any, css: str) -> float:
    return float(driver.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().top;", css))


@pytest.fixture
def a_month(register: Callable[..., User], monkeypatch: pytest.MonkeyPatch) -> dict[str, User]:
    """A month of alice's life: pay, paid, top-ups, one refused attempt, on days in the last five weeks and today."""
    alice, bob = register("alice", mobile="+919876543210"), register("bob", balance="900.00")
    carol, dan = register("carol", balance="800.00"), register("dan", balance="400.00")
    now = timezone.now()
    moments = iter(range(10_000))

    def on(days_ago: int, hour: int = 11) -> None:
        day = timezone.localdate(now) - timedelta(days=days_ago)
        minute = next(moments) % 60
        at = timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute), timezone.get_current_timezone())
        monkeypatch.setattr(timezone, "now", lambda: min(at, now))

    story: list[tuple[int, Callable[[], object]]] = [
        (34, lambda: services.wallet_top_up(user=alice, amount="1000.00")),
        (27, lambda: services.transfer_create(sender=alice, to_user_id=carol.pk, amount="180.00", note="rent share")),
        (24, lambda: services.transfer_create(sender=bob, to_user_id=alice.pk, amount="240.00", note="concert")),
        (20, lambda: services.wallet_top_up(user=alice, amount="1500.00")),
        (17, lambda: services.transfer_create(sender=alice, to_user_id=dan.pk, amount="325.75", note="groceries")),
        (13, lambda: services.transfer_create(sender=alice, to_user_id=bob.pk, amount="99.00")),
        (9, lambda: services.transfer_create(sender=carol, to_user_id=alice.pk, amount="60.00", note="cab")),
        (6, lambda: services.transfer_create(sender=alice, to_user_id=carol.pk, amount="410.00", note="flat deposit")),
        (3, lambda: services.transfer_create(sender=dan, to_user_id=alice.pk, amount="35.50", note="coffee")),
        (1, lambda: services.transfer_create(sender=alice, to_user_id=bob.pk, amount="42.00", note="lunch")),
    ]
    for days_ago, move in story:
        on(days_ago)
        move()
    on(0, 0)
    try:
        services.transfer_create(sender=alice, to_user_id=dan.pk, amount="99999.00")
    except services.InsufficientFunds:
        pass
    on(0, 0)  # and a payment today: "this month" has people in it on the first of a month too (local time)
    services.transfer_create(sender=dan, to_user_id=alice.pk, amount="12.00", note="tea")
    monkeypatch.undo()
    return {"alice": alice, "bob": bob, "carol": carol, "dan": dan}


def test_money_received_shows_a_notice_that_is_read_out_and_the_insights_follow_live(
    servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, alice: User, bob: User
) -> None:
    one, _ = servers
    driver = open_as(request, one, alice, DESKTOP, "/dashboard/")
    wait_live(driver)
    notice = driver.find_element(By.ID, "live-notice")
    assert (notice.get_attribute("role"), notice.get_attribute("aria-live")) == ("status", "polite")
    assert notice.text == ""
    services.wallet_top_up(user=bob, amount="200.00")
    services.transfer_create(sender=bob, to_user_id=alice.pk, amount="100.00", note="for the tickets")

    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "live-notice").text != "")
    assert notice.text == "You received INR 100.00 from bob: for the tickets"
    received = Transaction.objects.get(transaction_type="TRANSFER", receiver=alice)
    refund = driver.find_element(By.CSS_SELECTOR, f"li.tx[data-seq='{received.pk}'] a.tx-refund")
    assert refund.get_attribute("href").endswith(f"/transactions/{received.pk}/refund/")
    row = driver.find_element(By.CSS_SELECTOR, f"#counterparties tr[data-user='{bob.pk}']")
    assert row.text.split() == ["bob", "+INR", "100.00"]
    caption = driver.find_element(By.ID, "balance-chart-caption").text
    assert caption.endswith("to INR 1,100.00 today.")
    assert driver.find_elements(By.CSS_SELECTOR, "#balance-chart svg[role=img] polyline")

    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="0.25")  # paid elsewhere (the app)
    WebDriverWait(driver, 10, ignored_exceptions=[StaleElementReferenceException]).until(  # rows are redrawn
        lambda d: (
            d.find_element(By.CSS_SELECTOR, f"#counterparties tr[data-user='{bob.pk}']").text.split()
            == ["bob", "+INR", "100.00", "\u2212INR", "0.25"]
        )
    )
    pay_again = driver.find_element(By.CSS_SELECTOR, "#payees a.pay-again")
    assert pay_again.get_attribute("href").endswith(f"/transfer/?to={bob.pk}")
    assert notice.text == "You received INR 100.00 from bob: for the tickets"  # money sent is no news
    assert driver.execute_script("return window.__notReloaded === true;")


def test_pay_again_is_one_tap_to_a_filled_in_form_and_a_payment(
    servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, alice: User, bob: User
) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5.00")
    one, _ = servers
    driver = open_as(request, one, alice, PHONE, "/dashboard/")
    driver.find_element(By.CSS_SELECTOR, "#payees a.pay-again").click()
    # The dashboard has a transfer form too: wait for the transfer page's own (the only one with no balance).
    WebDriverWait(driver, 10).until(lambda d: "/transfer/" in d.current_url and not d.find_elements(By.ID, "balance"))
    form = driver.find_element(By.CSS_SELECTOR, "main form[action='/transfer/']")
    assert form.find_element(By.NAME, "to_user_id").get_attribute("value") == str(bob.pk)
    form.find_element(By.NAME, "amount").send_keys("7.50")
    form.find_element(By.NAME, "pin").send_keys(PIN)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 987.50")


def test_on_a_phone_recent_activity_comes_right_after_the_balance_and_before_the_forms(
    servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, a_month: dict[str, User], tmp_path: Path
) -> None:
    one, _ = servers
    phone = open_as(request, one, a_month["alice"], PHONE, "/dashboard/")
    wait_live(phone)
    assert top(phone, "#balance") < top(phone, "#recent-transactions") < top(phone, "form[action='/add-money/']")
    assert top(phone, "#recent-transactions") < PHONE[1]  # on the first screen, not 1,000 px down
    assert phone.execute_script("return document.documentElement.scrollWidth;") <= PHONE[0]  # no sideways scroll
    full_page_png(phone, screenshot_path(tmp_path, "dashboard-phone.png"))

    desktop = open_as(request, one, a_month["alice"], DESKTOP, "/dashboard/")
    wait_live(desktop)
    assert top(desktop, "form[action='/add-money/']") < top(desktop, "#recent-transactions")
    assert desktop.find_elements(By.CSS_SELECTOR, "#counterparties tbody tr[data-user]")  # people this month
    full_page_png(desktop, screenshot_path(tmp_path, "dashboard-desktop.png"))


def test_history_reads_well_on_a_phone_and_a_desktop(
    servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, a_month: dict[str, User], tmp_path: Path
) -> None:
    one, _ = servers
    for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        driver = open_as(request, one, a_month["alice"], size, "/transactions/")
        text = driver.find_element(By.TAG_NAME, "main").text
        assert "failed: insufficient funds" in text
        assert not re.search(r"[0-9] INR\b", text)
        assert driver.execute_script("return document.documentElement.scrollWidth;") <= size[0]
        full_page_png(driver, screenshot_path(tmp_path, f"history-{name}.png"))


def test_a_refused_form_on_the_dashboard_shows_every_error_beside_its_field_in_place(
    servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, alice: User
) -> None:
    one, _ = servers
    driver = open_as(request, one, alice, PHONE, "/dashboard/")
    form = driver.find_element(By.CSS_SELECTOR, "main form[action='/transfer/']")
    form.find_element(By.NAME, "to_user_id").send_keys("bob")
    form.find_element(By.NAME, "amount").send_keys("12,50")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".field-error"))
    assert driver.current_url.endswith("/transfer/")
    assert driver.find_element(By.ID, "balance").text == "INR 1,000.00"  # still the dashboard
    errors = {
        e.find_element(By.TAG_NAME, "label").text: e.find_element(By.CLASS_NAME, "field-error").text
        for e in driver.find_elements(By.CSS_SELECTOR, "form[action='/transfer/'] .field.has-error")
    }
    assert set(errors) == {"Recipient user id", "Amount", "PIN"}


def test_the_offline_banner_counts_down_to_the_next_try(
    servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, bob: User, tmp_path: Path
) -> None:
    from django.conf import settings

    redis_url = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    with daphne(redis_url=redis_url, log_dir=tmp_path) as server:
        driver = open_as(request, server, bob, DESKTOP, "/dashboard/")
        wait_live(driver)
        server.proc.kill()
        server.proc.wait()

    def seconds(d: Any) -> int | None:
        text = d.execute_script("var c = document.querySelector('#live-status .countdown'); return c && c.textContent;")
        match = re.fullmatch(r"in (\d+) s", text or "")
        return int(match.group(1)) if match else None

    # Each failed try waits longer; once a wait is long enough to show several seconds, watch it count down.
    WebDriverWait(driver, 30).until(lambda d: (seconds(d) or 0) >= 3)
    first = seconds(driver)
    assert first is not None
    WebDriverWait(driver, 10).until(lambda d: (seconds(d) or first) < first)
    status = driver.find_element(By.ID, "live-status")
    assert status.get_attribute("data-status") == "offline"
    assert status.text.startswith("Offline — retrying")
