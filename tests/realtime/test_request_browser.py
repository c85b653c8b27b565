"""Money requests in headless Chromium: a request for you appears on the dashboard live, and is paid from there.

Runs in the PostgreSQL + Redis pass, with the system browser (as tests/realtime/test_browser.py).
``PAYLANE_UPDATE_SCREENSHOT=1`` refreshes docs/screenshots/requests-dashboard.png and requests-page.png.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import PIN, balance_of
from tests.realtime.test_browser import CHROMEDRIVER, CHROMIUM, INSTALL, OpenAs, browser_for, chromium, wait_live
from tests.support.live import Daphne
from wallets import money_requests
from wallets.models import MoneyRequest, User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytestmark.append(pytest.mark.skip(reason=INSTALL))

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - requirements.txt pins selenium
    pytestmark.append(pytest.mark.skip(reason="selenium is not installed: run `make setup`"))

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
__all__ = ["browser_for", "chromium"]  # the fixtures, shared with test_browser.py


def shot_path(name: str, tmp_path: Path) -> Path:
    # The committed screenshots are refreshed on request only, so a test run leaves the tree clean.
    return SCREENSHOTS / name if os.environ.get("PAYLANE_UPDATE_SCREENSHOT") else tmp_path / name


def test_a_request_appears_live_on_the_payers_dashboard_and_is_paid_from_it(
    servers: tuple[Daphne, Daphne], browser_for: OpenAs, alice: User, bob: User, tmp_path: Path
) -> None:
    one, two = servers
    alice_browser = browser_for(one, alice)
    assert "Nobody is asking you for money" in alice_browser.find_element(By.ID, "pending-requests").text

    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="120.50", note="concert tickets")

    WebDriverWait(alice_browser, 10).until(
        lambda d: "bob asks for INR 120.50" in d.find_element(By.ID, "pending-request-list").text
    )
    assert alice_browser.execute_script("return window.__notReloaded === true;")
    assert "Nobody is asking" not in alice_browser.find_element(By.ID, "pending-request-list").text

    # Reloaded, the row carries its Pay form (PIN and one-time token) and Decline.
    alice_browser.get(one.http + "/dashboard/")
    wait_live(alice_browser)
    pending = alice_browser.find_element(By.ID, "pending-requests")
    alice_browser.execute_script("arguments[0].scrollIntoView();", pending)
    assert alice_browser.save_screenshot(str(shot_path("requests-dashboard.png", tmp_path)))
    form = alice_browser.find_element(By.CSS_SELECTOR, f"form[action='/requests/{made.pk}/pay/']")
    form.find_element(By.NAME, "pin").send_keys(PIN)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(alice_browser, 10).until(lambda d: "Paid INR 120.50 to bob." in d.page_source)
    made.refresh_from_db()
    assert made.status == MoneyRequest.Status.PAID and balance_of(bob) == Decimal("120.50")
    assert "bob asks for" not in alice_browser.find_element(By.ID, "pending-request-list").text

    # The requester's page shows it paid, with the transfer that paid it.
    bob_browser = browser_for(two, bob)
    bob_browser.get(two.http + "/requests/")
    outgoing = bob_browser.find_element(By.ID, "outgoing-requests").text
    assert "You asked alice for INR 120.50" in outgoing and "Paid" in outgoing
    assert bob_browser.save_screenshot(str(shot_path("requests-page.png", tmp_path)))
