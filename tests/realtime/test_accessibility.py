"""Every page, as axe-core sees it in headless Chromium: zero violations.

axe-core 4.14 is vendored (tests/support/vendor/axe-core/, as the npm registry ships it, with its
licence) and injected into each page by the driver; no page loads it and nothing comes from a CDN.
axe runs its default rule set (WCAG 2.x A and AA and its best practices) on the page as a person
would see it: after the live script connected, after a form was sent with errors.

PAGES is the list of pages checked: add a row for a new page (``Page(name, path, ...)``; ``as_user``
names who is signed in, ``act`` what is done on the page before it is checked).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.realtime.test_browser import chromium, wait_live  # noqa: F401  (the chromium fixture)
from tests.support.live import Daphne, session_key
from wallets import money_requests, services
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - requirements.txt pins selenium
    pytestmark.append(pytest.mark.skip(reason="selenium is not installed: run `make setup`"))

AXE_VERSION = "4.14.1"
AXE = Path(__file__).resolve().parents[1] / "support" / "vendor" / "axe-core" / "axe.min.js"

Act = Callable[[Any, Daphne, dict[str, User]], None]


def fill(driver: Any, form_css: str, fields: dict[str, str]) -> None:
    """Type ``fields`` into the form ``form_css`` and send it; waits for the page that answers."""
    form = driver.find_element(By.CSS_SELECTOR, form_css)
    for name, value in fields.items():
        box = form.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    old = driver.find_element(By.TAG_NAME, "html")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: old != d.find_element(By.TAG_NAME, "html"))


def on_form(form_css: str, fields: dict[str, str]) -> Act:
    return lambda driver, server, people: fill(driver, form_css, fields)


def click(css: str) -> Act:
    """Follow the link or press the button ``css``; waits for the page that answers."""

    def run(driver: Any, server: Daphne, people: dict[str, User]) -> None:
        old = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, css).click()
        WebDriverWait(driver, 10).until(lambda d: old != d.find_element(By.TAG_NAME, "html"))

    return run


def then(*acts: Act) -> Act:
    """Several steps on one page after another (a form, then the page it leads to)."""

    def run(driver: Any, server: Daphne, people: dict[str, User]) -> None:
        for act in acts:
            act(driver, server, people)

    return run


def live(driver: Any, server: Daphne, people: dict[str, User]) -> None:
    wait_live(driver)


def received_live(driver: Any, server: Daphne, people: dict[str, User]) -> None:
    """The dashboard after money came in while it was open: the notice shows, the insights redraw.

    The new row's highlight is held at its first frame (animations paused), its darkest, so the
    contrast is checked where it is lowest and not wherever the fade happens to be."""
    wait_live(driver)
    # Through the CSSOM: the page's Content-Security-Policy refuses an inline <style>.
    driver.execute_script(
        "const sheet = document.styleSheets[0];"
        "sheet.insertRule('*, *::before, *::after { animation-play-state: paused !important; }',"
        " sheet.cssRules.length);"
    )
    services.transfer_create(sender=people["bob"], to_user_id=people["alice"].pk, amount="12.00", note="lunch")
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "live-notice").text.startswith("You received"))


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    as_user: str | None = "alice"  # who is signed in: a key of the test's people, or None
    act: Act | None = None
    expect_status_text: str = field(default="")


BAD_TRANSFER = {"to_user_id": "someone", "amount": "-5", "note": "", "pin": ""}

PAGES: list[Page] = [
    Page("sign-in", "/", as_user=None),
    Page(
        "sign-in with errors",
        "/",
        as_user=None,
        act=on_form("main form:has(input[name=action][value=login])", {"login-username": "nobody"}),
    ),
    Page(
        "sign-up with errors",
        "/",
        as_user=None,
        act=on_form(
            "main form:has(input[name=action][value=register])",
            {"register-username": "x", "register-mobile_number": "12", "register-password": "a"},
        ),
    ),
    Page("password reset", "/password/reset/", as_user=None),
    Page("dashboard", "/dashboard/", act=live),
    Page("dashboard, money received live", "/dashboard/", act=received_live),
    Page("dashboard, transfer with errors", "/dashboard/", act=on_form("main form[action='/transfer/']", BAD_TRANSFER)),
    Page(
        "dashboard, add money with errors",
        "/dashboard/",
        act=on_form("main form[action='/add-money/']", {"amount": "x"}),
    ),
    Page("dashboard, new user", "/dashboard/", as_user="nia", act=live),
    Page("history", "/transactions/"),
    Page("add money", "/add-money/"),
    Page("add money with errors", "/add-money/", act=on_form("main form[action='/add-money/']", {"amount": "1.234"})),
    Page("transfer", "/transfer/"),
    Page("transfer with errors", "/transfer/", act=on_form("main form[action='/transfer/']", BAD_TRANSFER)),
    Page("pay again", "/transfer/?to={bob}"),
    Page("pay mobile", "/pay-mobile/"),
    Page(
        "pay mobile with errors",
        "/pay-mobile/",
        act=on_form("main form[action='/pay-mobile/']", {"mobile_number": "12", "amount": "0"}),
    ),
    Page(
        "pay mobile, confirm",
        "/pay-mobile/",
        act=on_form("main form[action='/pay-mobile/']", {"mobile_number": "+919812345678", "amount": "5"}),
    ),
    Page(
        "pay mobile, confirm with a wrong PIN",
        "/pay-mobile/",
        act=then(
            on_form("main form[action='/pay-mobile/']", {"mobile_number": "+919812345678", "amount": "5"}),
            on_form("main form[action='/pay-mobile/']", {"pin": "0000"}),
        ),
    ),
    Page("verify mobile", "/verify-mobile/", as_user="nia"),
    Page(
        "verify mobile with errors",
        "/verify-mobile/",
        as_user="nia",
        act=on_form("main form:has(input[name=action][value=verify])", {"code": "12"}),
    ),
    Page("PIN", "/pin/"),
    Page(
        "PIN with errors",
        "/pin/",
        act=on_form("main form:has(input[name=action][value=set])", {"pin": "1", "pin_confirm": "2"}),
    ),
    Page("name", "/name/"),
    Page("password", "/password/"),
    Page("refund", "/transactions/", act=click("a.tx-refund")),
    Page(
        "refund with errors",
        "/transactions/",
        act=then(click("a.tx-refund"), on_form("main form", {"amount": "99999"})),
    ),
    Page("requests", "/requests/"),
    Page("requests with errors", "/requests/", act=on_form("main form[action='/requests/']", {"amount": "0"})),
    Page("statements", "/statements/"),
    Page("statements with errors", "/statements/?from=2026-02-30&to=1999-01-01&format=csv"),
    Page("admin: ledger list", "/admin/ledger/transaction/", as_user="staff"),
    Page("admin: ledger list searched", "/admin/ledger/transaction/?q=alice", as_user="staff"),
]


def violations_readably(page: Page, violations: list[dict[str, Any]]) -> str:
    lines = [f"{page.name} ({page.path}): {len(violations)} axe-core violation(s)"]
    for v in violations:
        lines.append(f"- {v['id']} [{v.get('impact')}] {v['help']} ({len(v['nodes'])} element(s)) {v['helpUrl']}")
        for node in v["nodes"][:5]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}")
            for summary in (node.get("failureSummary") or "").splitlines()[:3]:
                lines.append(f"      {summary.strip()}")
    return "\n".join(lines)


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    driver.execute_script(AXE.read_text())
    assert driver.execute_script("return axe.version") == AXE_VERSION
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document).then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));
        """
    )
    parsed = json.loads(result)
    assert not isinstance(parsed, dict), parsed
    return list(parsed)


@pytest.fixture
def people(register: Callable[..., User], alice: User, bob: User) -> dict[str, User]:
    """alice, with a history (paid, paid by, a failed attempt) and bob's request to pay; bob; nia, new and
    unverified; a staff member."""
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="120.50", note="dinner")
    services.wallet_top_up(user=bob, amount="300.00")
    services.transfer_create(sender=bob, to_user_id=alice.pk, amount="45.25")
    try:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000.00")
    except services.InsufficientFunds:
        pass
    money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="12.00", note="lunch")
    nia = register("nia", verify=False, pin=None)
    staff = User.objects.create_superuser(username="staff", password="a long staff password", email="")
    return {"alice": alice, "bob": bob, "nia": nia, "staff": staff}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_page_has_no_axe_core_violations(
    page: Page, servers: tuple[Daphne, Daphne], request: pytest.FixtureRequest, people: dict[str, User]
) -> None:
    server, _ = servers
    driver = request.getfixturevalue("chromium")()
    if page.as_user:
        driver.get(server.http + "/static/css/paylane.css")
        driver.add_cookie({"name": "sessionid", "value": session_key(people[page.as_user]), "path": "/"})
    driver.get(server.http + page.path.format(**{name: user.pk for name, user in people.items()}))
    if page.act:
        page.act(driver, server, people)
    violations = axe_violations(driver)
    assert not violations, violations_readably(page, violations)
