"""Statements from a live daphne (as deployed): both files stream over real HTTP, and the page in headless Chromium.

PostgreSQL + Redis pass. The page's screenshot goes to docs/screenshots/statements.png when
PAYLANE_UPDATE_SCREENSHOT is set (a test run otherwise leaves the tree clean).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from ledger.models import Transaction
from tests.support.live import Daphne, daphne, session_key, suite_redis_url
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "statements.png"
QUERY = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Daphne]:
    with daphne(redis_url=suite_redis_url(), log_dir=tmp_path) as live:
        yield live


@pytest.fixture
def asha(register: Callable[..., User], top_up: Callable[..., Transaction], pay: Callable[..., Transaction]) -> User:
    asha = register("asha", mobile="+919876543210", first_name="Asha", last_name="Rao")
    ravi = register("ravi", mobile="+919812345678")
    top_up(asha, "500.00", date(2026, 2, 1))
    for day in range(1, 31):
        pay(asha, ravi, "3.50", date(2026, 3, day), note=f"tea, day {day}")
        top_up(asha, "1.25", date(2026, 3, day), hour=18)
    return asha


def fetch(server: Daphne, path: str, token: str) -> tuple[Any, bytes]:
    request = urllib.request.Request(server.http + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response, response.read()


def test_daphne_streams_the_csv_and_the_pdf(server: Daphne, asha: User) -> None:
    token = token_issue(user=asha)
    response, body = fetch(server, f"/api/v1/statements/?{QUERY}&format=csv", token)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers.get("Content-Length") is None  # streamed, not buffered
    text = body.decode("utf-8-sig")
    assert "Opening balance,500.00" in text and "Closing balance,432.50" in text
    assert text.count("tea, day") == 30

    response, body = fetch(server, f"/api/v1/statements/?{QUERY}&format=pdf", token)
    assert response.headers["Content-Type"] == "application/pdf"
    assert int(response.headers["Content-Length"]) == len(body)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(body)).pages]
    assert len(pages) >= 2
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "Closing balance: INR 432.50" in pages[-1]
    assert "no such" not in server.output()


@pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()), reason="headless Chromium missing")
def test_the_statements_page_in_a_browser_shows_the_form_and_its_errors_in_place(
    server: Daphne, asha: User, tmp_path: Path
) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="paylane-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1100,760",
                 f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get(server.http + "/static/css/paylane.css")
        driver.add_cookie({"name": "sessionid", "value": session_key(asha), "path": "/"})
        driver.get(server.http + "/dashboard/")
        driver.find_element(By.LINK_TEXT, "Statements").click()
        # A click returns before the next page has loaded: wait for it.
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Statements")
        for name, value in (("from", "2026-03-31"), ("to", "2026-03-01")):
            field = driver.find_element(By.NAME, name)
            driver.execute_script("arguments[0].value = arguments[1];", field, value)
        driver.find_element(By.CSS_SELECTOR, "form.statement-form button[type=submit]").click()
        error = WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".field.has-error .field-error")
        )
        assert error.text == "The period ends before it starts."
        assert driver.find_element(By.NAME, "from").get_attribute("value") == "2026-03-31"
        shot = SCREENSHOT if os.environ.get("PAYLANE_UPDATE_SCREENSHOT") else tmp_path / "statements.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
