"""The SMS backends: console, file, locmem and a class of your own (PAYLANE_SMS_BACKEND)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from wallets.accounts import sms
from wallets.accounts.sms import BaseSmsBackend, SmsError, SmsMessage, sms_send

sent: list[SmsMessage] = []


class RecordingBackend(BaseSmsBackend):
    """A provider of one's own: takes no arguments, has send_messages."""

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        sent.extend(messages)
        return len(messages)


class BrokenBackend(BaseSmsBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        raise SmsError("the provider is down")


def test_console_prints_one_json_line_per_message(settings, capsys) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SMS_BACKEND = "console"
    sms_send(to="+919800000001", body="hello 123456")
    line = capsys.readouterr().out.strip()
    assert json.loads(line) == {"sms": {"to": "+919800000001", "body": "hello 123456"}}


def test_file_writes_one_json_file_per_message(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SMS_BACKEND = "file"
    settings.PAYLANE_SMS_FILE_PATH = str(tmp_path / "sms")
    sms_send(to="+919800000001", body="one")
    sms_send(to="+919800000002", body="two")
    files = sorted((tmp_path / "sms").glob("*.json"))
    assert [json.loads(f.read_text()) for f in files] == [
        {"to": "+919800000001", "body": "one"},
        {"to": "+919800000002", "body": "two"},
    ]


def test_file_needs_its_folder(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SMS_BACKEND = "file"
    settings.PAYLANE_SMS_FILE_PATH = ""
    with pytest.raises(ImproperlyConfigured):
        sms_send(to="+919800000001", body="x")


def test_locmem_keeps_messages_in_the_outbox() -> None:
    sms_send(to="+919800000001", body="kept")
    assert sms.outbox == [SmsMessage(to="+919800000001", body="kept")]


def test_a_dotted_path_plugs_in_a_provider_of_ones_own(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_sms.RecordingBackend"
    sms_send(to="+919800000001", body="custom")
    assert sent[-1] == SmsMessage(to="+919800000001", body="custom")


def test_an_unknown_backend_is_a_configuration_error(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SMS_BACKEND = "no.such.Backend"
    with pytest.raises(ImproperlyConfigured):
        sms_send(to="+919800000001", body="x")
