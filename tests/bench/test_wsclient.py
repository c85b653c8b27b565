"""The connect storm's lean client (bench/wsclient.py) against a real daphne: it counts a
handshake as accepted only when the hello arrives, and a refused token as refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.wsclient import Refused, accept_for, hello_open
from tests.support.live import Daphne, daphne, suite_redis_url
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Daphne]:
    with daphne(redis_url=suite_redis_url(), log_dir=tmp_path) as one:
        yield one


def test_the_accept_header_is_rfc_6455s_example() -> None:
    assert accept_for(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455, 1.3


def test_a_valid_token_gets_its_hello(server: Daphne, alice: User) -> None:
    token = token_issue(user=alice)

    async def run() -> tuple[dict[str, object], float]:
        socket, seconds = await hello_open(server.port, token)
        await socket.close()
        return socket.hello, seconds

    hello, seconds = asyncio.run(run())
    assert hello["type"] == "hello" and hello["balance"] == "1000.00"
    assert 0 < seconds < 10


def test_a_refused_token_is_a_refusal_not_a_handshake(server: Daphne) -> None:
    with pytest.raises(Refused, match=r"4401|403"):
        asyncio.run(hello_open(server.port, "not-a-token"))
