"""The live dashboard in headless Chromium: a payment in one browser shows up in the other's, without reload.

Uses the system browser and driver (Debian ``chromium`` + ``chromium-driver``);
selenium is never allowed to download one. Runs in the PostgreSQL + Redis pass.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PIN
from tests.support.live import Daphne, daphne, session_key, task_worker
from tests.support.sms import last_code_in_folder
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "realtime.png"
INSTALL = "headless Chromium missing: install it with `apt-get update && apt-get install -y chromium chromium-driver`"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytestmark.append(pytest.mark.skip(reason=INSTALL))

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - requirements.txt pins selenium
    pytestmark.append(pytest.mark.skip(reason="selenium is not installed: run `make setup`"))


OpenAs = Callable[[Daphne, User], Any]


@pytest.fixture
def chromium() -> Iterator[Callable[[], Any]]:
    """``chromium()`` opens a fresh headless browser (its own profile: no cookies), closed after the test."""
    drivers: list[Any] = []
    dirs: list[str] = []

    def open_browser() -> Any:
        profile = tempfile.mkdtemp(prefix="paylane-chromium-")
        dirs.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,900",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        drivers.append(driver)
        return driver

    yield open_browser
    for driver in drivers:
        driver.quit()
    for profile in dirs:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser_for(chromium: Callable[[], Any]) -> OpenAs:
    def open_as(server: Daphne, user: User) -> Any:
        driver = chromium()
        driver.get(server.http + "/static/css/paylane.css")  # a page on the origin, to set its cookie
        driver.add_cookie({"name": "sessionid", "value": session_key(user), "path": "/"})
        driver.get(server.http + "/dashboard/")
        wait_live(driver)
        return driver

    return open_as


def wait_live(driver: Any) -> None:
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "live-status").get_attribute("data-status") == "live"
    )
    # Marker that survives only as long as the page is not reloaded.
    driver.execute_script("window.__notReloaded = true;")


def test_payment_in_one_browser_updates_the_other_users_dashboard_in_every_tab_without_reload(
    servers: tuple[Daphne, Daphne], browser_for: OpenAs, alice: User, bob: User, tmp_path: Path
) -> None:
    one, two = servers
    alice_browser = browser_for(one, alice)
    bob_browser = browser_for(two, bob)
    first_tab = bob_browser.current_window_handle
    bob_browser.switch_to.new_window("tab")
    bob_browser.get(two.http + "/dashboard/")
    wait_live(bob_browser)
    assert bob_browser.find_element(By.ID, "balance").text == "INR 0.00"

    form = alice_browser.find_element(By.CSS_SELECTOR, "form[action='/transfer/']")
    form.find_element(By.NAME, "to_user_id").send_keys(str(bob.pk))
    form.find_element(By.NAME, "amount").send_keys("250.75")
    form.find_element(By.NAME, "pin").send_keys(PIN)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    for handle in (bob_browser.current_window_handle, first_tab):
        bob_browser.switch_to.window(handle)
        WebDriverWait(bob_browser, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 250.75")
        newest = bob_browser.find_element(By.CSS_SELECTOR, "#recent-transactions li.tx")
        assert "From alice" in newest.text
        assert "+INR 250.75" in newest.text
        assert bob_browser.execute_script("return window.__notReloaded === true;")

    # The sender's own page reloaded after the form; its remaining limit reflects the payment.
    WebDriverWait(alice_browser, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 749.25")
    assert alice_browser.find_element(By.ID, "remaining-today").text == "INR 99,749.25"
    # The committed docs/screenshots/realtime.png is refreshed on request only, so a test run leaves the tree clean.
    shot = SCREENSHOT if os.environ.get("PAYLANE_UPDATE_SCREENSHOT") else tmp_path / "realtime.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert bob_browser.save_screenshot(str(shot))


def test_sender_dashboard_updates_limit_and_history_live_from_a_payment_made_elsewhere(
    servers: tuple[Daphne, Daphne], browser_for: OpenAs, alice: User, bob: User
) -> None:
    from wallets import services

    one, _ = servers
    alice_browser = browser_for(one, alice)
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")  # e.g. from the mobile app
    WebDriverWait(alice_browser, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 900.00")
    assert alice_browser.find_element(By.ID, "remaining-today").text == "INR 99,900.00"
    newest = alice_browser.find_element(By.CSS_SELECTOR, "#recent-transactions li.tx")
    assert "To bob" in newest.text
    assert alice_browser.execute_script("return window.__notReloaded === true;")


def test_dashboard_shows_offline_reconnects_by_itself_and_resumes_what_it_missed(
    servers: tuple[Daphne, Daphne], browser_for: OpenAs, alice: User, bob: User, tmp_path: Path
) -> None:
    from django.conf import settings

    from wallets import services

    redis_url = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    with daphne(redis_url=redis_url, log_dir=tmp_path) as server:
        port = server.port
        bob_browser = browser_for(server, bob)
        server.proc.kill()  # the process bob's tab is connected to dies
        server.proc.wait()
        status = lambda d: d.find_element(By.ID, "live-status").get_attribute("data-status")  # noqa: E731
        WebDriverWait(bob_browser, 10).until(lambda d: status(d) == "offline")
        missed = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="12.34")  # pushed to nobody
    with daphne(redis_url=redis_url, log_dir=tmp_path, port=port):
        WebDriverWait(bob_browser, 15).until(lambda d: status(d) == "live")
        WebDriverWait(bob_browser, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 12.34")
        rows = bob_browser.find_elements(By.CSS_SELECTOR, f"#recent-transactions li.tx[data-seq='{missed.pk}']")
        assert len(rows) == 1
        assert bob_browser.execute_script("return window.__notReloaded === true;")


def test_the_transfer_form_sent_twice_from_the_browser_pays_once(
    servers: tuple[Daphne, Daphne], browser_for: OpenAs, alice: User, bob: User, tmp_path: Path
) -> None:
    from ledger.models import Transaction

    one, _ = servers
    alice_browser = browser_for(one, alice)
    alice_browser.get(one.http + "/transfer/")
    form = alice_browser.find_element(By.CSS_SELECTOR, "main form[action='/transfer/']")
    form.find_element(By.NAME, "to_user_id").send_keys(str(bob.pk))
    form.find_element(By.NAME, "amount").send_keys("40.00")
    form.find_element(By.NAME, "pin").send_keys(PIN)
    # The rendered form, posted twice 30 ms apart (a double click, or the browser's retry):
    # both requests reach the server, as they did when a second click 20-50 ms after the first paid twice.
    statuses = alice_browser.execute_async_script(
        """
        const [form, done] = arguments;
        const send = () => fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                                               credentials: "same-origin", redirect: "manual"}).then(r => r.type);
        Promise.all([send(), new Promise(r => setTimeout(r, 30)).then(send)]).then(done);
        """,
        form,
    )
    assert statuses == ["opaqueredirect", "opaqueredirect"]  # both answered with the redirect to the dashboard
    alice_browser.get(one.http + "/dashboard/")
    assert alice_browser.find_element(By.ID, "balance").text == "INR 960.00"
    assert Transaction.objects.filter(transaction_type="TRANSFER").count() == 1
    assert alice_browser.save_screenshot(str(tmp_path / "sent-twice.png"))


def test_a_new_user_types_the_code_and_the_pin_and_pays_by_mobile_after_seeing_the_payees_name(
    chromium: Callable[[], Any], register: Callable[..., User], tmp_path: Path
) -> None:
    """The README's walk-through, typed: sign up, the code from the phone, a PIN, money in, pay by mobile."""
    from django.conf import settings

    register("bob", mobile="+919812345678", first_name="Bobby", last_name="Kumar")
    redis_url = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    with daphne(redis_url=redis_url, log_dir=tmp_path) as server, task_worker(log_dir=tmp_path):
        browser = chromium()

        def fill(action: str, fields: dict[str, str]) -> None:
            form = browser.find_element(By.CSS_SELECTOR, f"main form:has(input[name=action][value={action}])")
            for name, value in fields.items():
                form.find_element(By.NAME, name).send_keys(value)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        def type_into(path: str, fields: dict[str, str]) -> None:
            form = browser.find_element(By.CSS_SELECTOR, f"main form[action='{path}']")
            for name, value in fields.items():
                form.find_element(By.NAME, name).send_keys(value)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        def on(path: str) -> None:
            WebDriverWait(browser, 10).until(lambda d: d.current_url == server.http + path)

        browser.get(server.http + "/")
        fill(
            "register",
            {
                "register-username": "nia",
                "register-first_name": "Nia",
                "register-last_name": "Shah",
                "register-mobile_number": "98000 00552",
                "register-password": "a long walk to the shop",
                "register-password_confirm": "a long walk to the shop",
            },
        )
        on("/verify-mobile/")
        code = last_code_in_folder(server.sms, "+919800000552")  # read off the phone
        fill("verify", {"code": code})
        on("/dashboard/")
        assert browser.find_elements(By.ID, "pin-notice")

        browser.get(server.http + "/pin/")
        fill("set", {"pin": "4826", "pin_confirm": "4826"})
        on("/dashboard/")
        browser.get(server.http + "/add-money/")
        type_into("/add-money/", {"amount": "500"})
        on("/dashboard/")

        browser.get(server.http + "/pay-mobile/")
        type_into("/pay-mobile/", {"mobile_number": "98123 45678", "amount": "120"})
        WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "payee-name"))
        assert browser.find_element(By.ID, "payee-name").text == "Bo*** K****"
        assert browser.find_element(By.ID, "payment-amount").text == "INR 120.00"
        browser.save_screenshot(str(tmp_path / "confirm.png"))
        type_into("/pay-mobile/", {"pin": "4826"})
        on("/dashboard/")
        WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "balance").text == "INR 380.00")

        def alerts(to: str) -> list[str]:
            found = [json.loads(path.read_text()) for path in sorted(server.sms.glob("*.json"))]
            return [message["body"] for message in found if message["to"] == to]

        WebDriverWait(browser, 15).until(
            lambda _: "Received INR 120.00 from Ni* S***. Balance INR 120.00." in alerts("+919812345678")
        )
        assert "Paid INR 120.00 to Bo*** K****. Balance INR 380.00." in alerts("+919800000552")
