"""Under ASGI (daphne serves the service) both files stream as asynchronous iterators: Django never reads
a synchronous one to its end into memory (it warns when it has to)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from pypdf import PdfReader

from ledger.models import Transaction
from wallets.accounts.tokens import token_issue
from wallets.models import User

URL = "/api/v1/statements/"


async def download(token: str, fmt: str) -> tuple[Any, bytes]:
    response = await AsyncClient().get(
        URL, {"from": "2026-03-01", "to": "2026-03-31", "format": fmt}, headers={"Authorization": f"Bearer {token}"}
    )
    body = b"".join([part async for part in response.streaming_content])
    return response, body


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_both_formats_stream_asynchronously_under_asgi(
    register: Callable[..., User], top_up: Callable[..., Transaction], fmt: str
) -> None:
    asha = register("asha")
    for day in range(1, 6):
        top_up(asha, "2.00", date(2026, 3, day))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="StreamingHttpResponse must consume synchronous iterators")
        response, body = async_to_sync(download)(token_issue(user=asha), fmt)
    assert response.status_code == 200
    assert response.is_async
    if fmt == "csv":
        assert "Closing balance,10.00" in body.decode("utf-8-sig")
    else:
        assert int(response["Content-Length"]) == len(body)
        assert "Closing balance: INR 10.00" in PdfReader(io.BytesIO(body)).pages[0].extract_text()
