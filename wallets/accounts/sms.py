"""Messages to phones, through a pluggable backend (``PAYLANE_SMS_BACKEND``), shaped like Django's ``EMAIL_BACKEND``.

* ``console`` (the default): each message printed to the server's standard output,
  one JSON object per line. For development: it prints one-time codes.
* ``file``: each message written as one JSON file ``{"to": "+91…", "body": "…"}``
  into the folder ``PAYLANE_SMS_FILE_PATH``, one file per message (Django's
  file-based mail backend does the same for e-mail).
* ``locmem``: kept in ``wallets.accounts.sms.outbox`` (tests).
* a dotted path to a class of your own: a real provider. It takes no arguments
  and has ``send_messages(messages) -> int`` (how many went out); raise
  ``SmsError`` (or anything) when the provider refuses. See docs/api.md.

A message is sent within the request that asks for it (a verification code), or
after the answer by a task on a worker thread (``project/tasks.py``): an alert,
after the commit of what it reports (``wallets.accounts.alerts``), and a
password-reset code (``wallets.accounts.passwords``). A backend of your own must
bound its own time (its HTTP client's timeout): a call that never returns holds
its request, or its worker thread for good.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class SmsError(Exception):
    """A backend could not send a message."""


class BaseSmsBackend:
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        raise NotImplementedError


class ConsoleBackend(BaseSmsBackend):
    _lock = threading.Lock()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        with self._lock:
            for message in messages:
                sys.stdout.write(json.dumps({"sms": asdict(message)}, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return len(messages)


class FileBackend(BaseSmsBackend):
    def __init__(self) -> None:
        path = getattr(settings, "PAYLANE_SMS_FILE_PATH", "")
        if not path:
            raise ImproperlyConfigured("PAYLANE_SMS_BACKEND=file needs PAYLANE_SMS_FILE_PATH (a folder).")
        self.folder = Path(path)

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            # Sortable by time, unique across processes; written whole, then renamed into place.
            name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{os.getpid()}-{secrets.token_hex(4)}.json"
            partial = self.folder / f".{name}.tmp"
            partial.write_text(json.dumps(asdict(message), ensure_ascii=False))
            partial.rename(self.folder / name)
        return len(messages)


# The locmem backend's messages, oldest first (tests empty it).
outbox: list[SmsMessage] = []


class LocmemBackend(BaseSmsBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


_BUILT_IN: dict[str, type[BaseSmsBackend]] = {
    "console": ConsoleBackend,
    "file": FileBackend,
    "locmem": LocmemBackend,
}


def sms_backend() -> BaseSmsBackend:
    name: str = getattr(settings, "PAYLANE_SMS_BACKEND", "console")
    backend = _BUILT_IN.get(name)
    if backend is None:
        try:
            backend = import_string(name)
        except ImportError as exc:
            raise ImproperlyConfigured(f"PAYLANE_SMS_BACKEND {name!r} is not console, file, locmem or a class") from exc
    return backend()


def sms_send(*, to: str, body: str) -> None:
    """Send one message now. Raises what the backend raises: callers decide what a failure means."""
    sms_backend().send_messages([SmsMessage(to=to, body=body)])
