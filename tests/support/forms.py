"""Submitting the money forms as a browser does: with the one-time token the form was rendered with."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def form_token(page_html: str) -> str:
    """The one-time token of the (first) money form on a page."""
    match = _TOKEN.search(page_html)
    assert match, "no form_token on the page"
    return match.group(1)


def submit(client: Client, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    """GET ``path``'s form and POST ``data`` with its token, as one click on its button."""
    token = form_token(client.get(path).content.decode())
    return client.post(path, {**data, "form_token": token}, **kwargs)
