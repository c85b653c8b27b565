"""Security headers on every page: CSP, no framing, no sniffing."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from wallets.models import User


@pytest.mark.parametrize("path", ["/", "/dashboard/", "/transactions/", "/api/v1/wallet/", "/api/v1/docs/"])
def test_every_page_sends_a_strict_content_security_policy(client: Client, alice: User, path: str) -> None:
    client.force_login(alice)
    response = client.get(path)
    policy = dict((d.split()[0], d.split()[1:]) for d in response.headers["Content-Security-Policy"].split("; "))
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/dashboard/", "/transactions/", "/add-money/", "/api/v1/docs/"])
def test_pages_have_no_inline_script_for_the_policy_to_block(client: Client, alice: User, path: str) -> None:
    client.force_login(alice)
    html = client.get(path).content.decode()
    # A JSON data block (Django's json_script) is never executed: the policy has nothing to block there.
    assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html), (
        "an inline <script> would be blocked"
    )
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), "an inline event handler would be blocked"


@pytest.mark.parametrize("path", ["/", "/dashboard/", "/transactions/", "/add-money/"])
def test_our_own_pages_need_no_inline_style_either(client: Client, alice: User, path: str) -> None:
    client.force_login(alice)
    html = client.get(path).content.decode()
    assert "<style" not in html and " style=" not in html
