"""A refund in headless Chromium: the Refund button on the history, the page, and the payer's dashboard live.

Runs in the PostgreSQL + Redis pass with the system browser, as tests/realtime/test_browser.py.
``PAYLANE_UPDATE_SCREENSHOT=1`` refreshes docs/screenshots/refund-history.png and refund.png.
"""

from __future__ import annotations

import os
from pathlib import Path

from ledger.models import Transaction
from tests.conftest import PIN
from tests.realtime.test_browser import OpenAs, browser_for, chromium, pytestmark  # noqa: F401  (fixtures, skips)
from tests.support.live import Daphne
from wallets import services
from wallets.models import User

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - requirements.txt pins selenium
    pass

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_the_receiver_refunds_from_the_history_and_the_payer_sees_it_live(
    servers: tuple[Daphne, Daphne],
    browser_for: OpenAs,  # noqa: F811  (the fixture imported above)
    alice: User,
    bob: User,
    tmp_path: Path,
) -> None:
    one, two = servers
    payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="120.00", note="concert tickets")
    alice_browser = browser_for(one, alice)
    bob_browser = browser_for(two, bob)

    shots = SCREENSHOTS if os.environ.get("PAYLANE_UPDATE_SCREENSHOT") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    bob_browser.get(two.http + "/transactions/")
    assert bob_browser.save_screenshot(str(shots / "refund-history.png"))
    bob_browser.find_element(By.CSS_SELECTOR, f"a.tx-refund[href='/transactions/{payment.pk}/refund/']").click()
    form = WebDriverWait(bob_browser, 10).until(  # the click returns before the refund page has loaded
        lambda d: d.find_element(By.CSS_SELECTOR, f"main form[action='/transactions/{payment.pk}/refund/']")
    )
    amount = form.find_element(By.NAME, "amount")
    assert amount.get_attribute("value") == "120.00"
    amount.clear()
    amount.send_keys("20.00")
    form.find_element(By.NAME, "note").send_keys("one ticket was spare")
    form.find_element(By.NAME, "pin").send_keys(PIN)
    assert bob_browser.save_screenshot(str(shots / "refund.png"))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(bob_browser, 10).until(lambda d: "Refunded INR 20.00 to alice" in d.page_source)
    WebDriverWait(alice_browser, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 900.00")
    newest = alice_browser.find_element(By.CSS_SELECTOR, "#recent-transactions li.tx")
    assert "From bob" in newest.text and "+INR 20.00" in newest.text
    assert alice_browser.execute_script("return window.__notReloaded === true;")
    refund = Transaction.objects.get(transaction_type="REFUND")
    assert (refund.amount, refund.corrects_id, refund.note) == (20, payment.pk, "one ticket was spare")
