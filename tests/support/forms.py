"""Submitting the money forms as a browser does: with the one-time token the form was rendered with, and the PIN."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from tests.conftest import PIN

_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def form_token(page_html: str) -> str:
    """The one-time token of the (first) money form on a page."""
    match = _TOKEN.search(page_html)
    assert match, "no form_token on the page"
    return match.group(1)


def asks_for_pin(page_html: str) -> bool:
    return 'name="pin"' in page_html


def form_page(client: Client, path: str, data: dict[str, str]) -> Any:
    """The page whose form a click on ``path`` would send: its GET, or for a form with a confirmation
    step first (pay-by-mobile: number and amount, then the payee's name and the PIN), the answer to
    that first step posted with ``data``."""
    page = client.get(path)
    if 'name="step" value="review"' in page.content.decode():
        return client.post(path, {**data, "step": "review"})
    return page


def submit(client: Client, path: str, data: dict[str, str], *, pin: str | None = PIN, **kwargs: Any) -> Any:
    """GET ``path``'s form and POST ``data`` with its token (and ``pin``, if the form asks for one), as a click.

    A form with a confirmation step is walked through it (``form_page``); if that step is refused,
    its answer is returned.
    """
    page = form_page(client, path, data)
    if page.status_code != 200:
        return page
    html = page.content.decode()
    fields = {**data, "form_token": form_token(html)}
    if pin is not None and "pin" not in data and asks_for_pin(html):
        fields["pin"] = pin
    return client.post(path, fields, **kwargs)
