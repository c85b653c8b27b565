"""Reading the one-time codes a test's users were sent: the locmem outbox in process, files from a live server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from wallets.accounts import sms

_CODE = re.compile(r"\b([0-9]{6})\b")


def code_in(body: str) -> str:
    """The six-digit code of a message (it appears once)."""
    found = _CODE.findall(body)
    assert len(found) == 1, f"expected one code in {body!r}"
    return str(found[0])


# Every one-time code's message starts so (wallets/accounts/codes.py); alerts do not.
CODE_MESSAGE = "Your Paylane code "


def last_code(to: str) -> str:
    """The code of the newest one-time code message the locmem backend sent to ``to`` (alerts aside)."""
    for message in reversed(sms.outbox):
        if message.to == to and message.body.startswith(CODE_MESSAGE):
            return code_in(message.body)
    raise AssertionError(f"no code sent to {to} in the outbox: {[m.to for m in sms.outbox]}")


def messages_to(to: str) -> list[str]:
    return [message.body for message in sms.outbox if message.to == to]


def code_in_folder(folder: Path, to: str) -> str | None:
    """The code of the newest message the ``file`` backend wrote to ``folder`` for ``to``, or None
    while there is none: a live server may send it after its answer (and makes the folder before it
    renames the first message into it)."""
    for path in sorted(folder.glob("*.json"), reverse=True):
        message = json.loads(path.read_text())
        if message["to"] == to and message["body"].startswith(CODE_MESSAGE):
            return code_in(message["body"])
    return None


def last_code_in_folder(folder: Path, to: str) -> str:
    """``code_in_folder``, for a message that must have been sent already."""
    code = code_in_folder(folder, to)
    if code is None:
        raise AssertionError(f"no message to {to} in {folder}")
    return code
