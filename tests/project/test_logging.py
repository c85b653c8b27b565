"""Logs: one JSON object per line with the fields operations search by; one line per money movement and refusal.

Captured through the service's own formatter (``project.observability.logging``),
the one settings.py installs on the root logger.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from django.test import Client

from tests.conftest import PIN
from tests.project.test_settings import manage
from tests.support.logs import CapturedLogs, captured_logs
from tests.wallets.api.conftest import Api
from wallets.accounts.tokens import token_issue
from wallets.models import User


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    with captured_logs(every_logger_at=logging.DEBUG) as captured:
        yield captured


def the_one(lines: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(lines) == 1, lines
    return lines[0]


# --- Shape and the request id ------------------------------------------------------------


@pytest.mark.django_db
def test_each_request_writes_one_json_line_with_time_level_event_request_id_user_route_status_duration(
    alice: User, logs: CapturedLogs
) -> None:
    api = Api(token_issue(user=alice))
    response = api.get("/api/v1/transactions/42/")

    line = the_one(logs.events("request"))
    assert {"time", "level", "event", "request_id", "user_id", "route", "status", "duration"} <= set(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", line["time"])
    assert line["level"] == "info"
    assert line["user_id"] == alice.pk
    assert line["route"] == "/api/v1/transactions/<int:transaction_id>/"
    assert line["path"] == "/api/v1/transactions/42/" and line["method"] == "GET"
    assert line["status"] == response.status_code == 404
    assert isinstance(line["duration"], float) and 0 < line["duration"] < 30
    assert line["request_id"] == response["X-Request-ID"]
    # Each line is exactly one JSON object: nothing else, nothing split.
    for raw in logs.text().splitlines():
        assert isinstance(json.loads(raw), dict)


@pytest.mark.django_db
def test_an_incoming_request_id_is_kept_returned_and_on_every_line_of_the_request(
    alice: User, bob: User, logs: CapturedLogs
) -> None:
    api = Api(token_issue(user=alice))
    response = api.post(
        "/api/v1/transfers/", {"to_user_id": bob.pk, "amount": "1.00"}, **{"X-Request-ID": "edge-7f3a:42"}
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "edge-7f3a:42"
    assert the_one(logs.events("request"))["request_id"] == "edge-7f3a:42"
    assert the_one(logs.events("money_moved"))["request_id"] == "edge-7f3a:42"


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", [None, "", "x" * 129, "has space", 'quote"s', "ünïcode"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(
    client: Client, logs: CapturedLogs, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    first = client.get("/api/v1/transactions/", headers=headers)["X-Request-ID"]
    second = client.get("/api/v1/transactions/", headers=headers)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second
    assert [line["request_id"] for line in logs.events("request")] == [first, second]


@pytest.mark.django_db
def test_an_anonymous_request_logs_no_user_and_an_unmatched_path_no_route(client: Client, logs: CapturedLogs) -> None:
    client.get("/no/such/page/")
    line = the_one(logs.events("request"))
    assert line["user_id"] is None and line["route"] is None and line["status"] == 404


@pytest.mark.django_db
def test_the_probes_log_at_debug(client: Client, logs: CapturedLogs) -> None:
    client.get("/healthz")
    client.get("/readyz")
    client.get("/metrics")
    levels = {line["path"]: line["level"] for line in logs.events("request")}
    assert levels == {"/healthz": "debug", "/readyz": "debug", "/metrics": "info"}


@pytest.mark.django_db
def test_at_the_default_level_the_log_has_no_probe_lines(client: Client) -> None:
    assert logging.getLogger().level == logging.INFO  # LOG_LEVEL's default
    with captured_logs() as at_info:
        client.get("/healthz")
        client.get("/readyz")
        client.get("/api/v1/wallet/")
    assert [line["path"] for line in at_info.events("request")] == ["/api/v1/wallet/"]


# --- One line per money movement and per refusal -----------------------------------------


@pytest.mark.django_db
def test_a_movement_is_logged_once_with_its_ledger_id_and_its_replay_not_again(
    alice: User, bob: User, logs: CapturedLogs
) -> None:
    api = Api(token_issue(user=alice))
    body = {"to_user_id": bob.pk, "amount": "12.50"}
    first = api.post("/api/v1/transfers/", body, **{"Idempotency-Key": "log-once-1"})
    replay = api.post("/api/v1/transfers/", body, **{"Idempotency-Key": "log-once-1"})
    assert first.status_code == replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"

    line = the_one(logs.events("money_moved"))
    assert line["ledger_id"] == first.json()["id"]
    assert line["type"] == "transfer" and line["amount"] == "12.50"
    assert line["sender_id"] == alice.pk and line["receiver_id"] == bob.pk
    assert logs.events("money_refused") == []


@pytest.mark.django_db
def test_a_recorded_refusal_is_logged_once_with_its_code_and_ledger_id(
    alice: User, bob: User, logs: CapturedLogs
) -> None:
    response = Api(token_issue(user=alice)).post("/api/v1/transfers/", {"to_user_id": bob.pk, "amount": "99999.00"})
    assert response.status_code == 422
    line = the_one(logs.events("money_refused"))
    assert line["code"] == "insufficient_funds" and line["outcome"] == "failed"
    assert line["ledger_id"] == response.json()["error"]["transaction_id"]
    assert line["user_id"] == alice.pk
    assert logs.events("money_moved") == []


@pytest.mark.django_db
def test_a_refusal_that_records_nothing_is_logged_once_with_its_code(alice: User, logs: CapturedLogs) -> None:
    client = Client()
    client.force_login(alice)
    client.post("/transfer/", {"to_user_id": str(alice.pk), "amount": "1.00", "pin": PIN, "form_token": _token(client)})
    line = the_one(logs.events("money_refused"))
    assert line["code"] == "self_transfer" and line["outcome"] == "refused" and line["ledger_id"] is None
    assert "amount" not in line  # what a person typed into a refused form is not logged


def _token(client: Client) -> str:
    from tests.support.forms import form_token

    return form_token(client.get("/transfer/").content.decode())


# --- Formats -----------------------------------------------------------------------------


def test_the_console_format_writes_readable_lines_not_json() -> None:
    with captured_logs(log_format="console") as console:
        structlog.get_logger("paylane.test").info("money_moved", ledger_id=7, type="transfer")
    text = console.text()
    assert "money_moved" in text and "ledger_id=7" in text and "info" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_a_line_break_in_a_logged_value_cannot_start_a_line_of_its_own() -> None:
    forged = 'bob\n{"level": "info", "event": "money_moved", "ledger_id": 1}'
    with captured_logs() as captured:
        structlog.get_logger("paylane.test").info("sign_in_failed", username=forged)
    assert len(captured.text().splitlines()) == 1
    assert the_one(captured.lines())["username"] == forged


def test_an_exception_is_logged_without_the_local_variables_of_its_frames() -> None:
    # structlog's console renderer shows locals through rich, which is installed: a password would be printed.
    def sign_in(password: str) -> None:
        raise ValueError("wrong")

    secret = "-".join(["Hunter2", "local", "secret"])  # not in any source line a traceback quotes
    for log_format in ("json", "console"):
        with captured_logs(log_format=log_format) as captured:
            try:
                sign_in(secret)
            except ValueError:
                logging.getLogger("paylane.test").exception("failed")
        assert "ValueError" in captured.text()
        assert secret not in captured.text(), log_format


# DEBUG=0 gives JSON: test_a_production_process_logs_json_lines_on_stderr.
@pytest.mark.parametrize(
    ("env", "expected"),
    [({"DEBUG": "1"}, "console"), ({"DEBUG": "1", "PAYLANE_LOG_FORMAT": "JSON"}, "json")],
)
def test_the_format_is_console_with_debug_unless_asked(env: dict[str, str], expected: str) -> None:
    code = "from django.conf import settings; print(settings.PAYLANE_LOG_FORMAT)"
    result = manage("shell", "-v", "0", "-c", code, **{"SECRET_KEY": "dev", **env})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == expected


def test_an_unknown_format_refuses_to_start() -> None:
    result = manage("check", DEBUG="1", SECRET_KEY="dev", PAYLANE_LOG_FORMAT="xml")
    assert result.returncode != 0 and "PAYLANE_LOG_FORMAT" in result.stderr


def test_a_production_process_logs_json_lines_on_stderr() -> None:
    code = "import structlog; structlog.get_logger('paylane.test').warning('hello', answer=42)"
    result = manage("shell", "-v", "0", "-c", code, DEBUG="0", SECRET_KEY="x" * 64)
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["event"] == "hello" and line["answer"] == 42 and line["level"] == "warning"
    assert list(line)[:4] == ["time", "level", "logger", "event"]


def test_sql_with_its_parameters_is_never_logged_even_at_debug() -> None:
    # django.db.backends' DEBUG lines carry query parameters (an Idempotency-Key, a session key).
    code = "import logging; print(logging.getLogger('django.db.backends').getEffectiveLevel())"
    result = manage("shell", "-v", "0", "-c", code, DEBUG="1", SECRET_KEY="dev", LOG_LEVEL="DEBUG")
    assert int(result.stdout.split()[-1]) == logging.INFO


# --- daphne's access log -----------------------------------------------------------------


def test_daphnes_access_lines_go_through_the_one_logger_without_query_strings() -> None:
    from daphne.access import AccessLogGenerator

    import project.asgi  # noqa: F401  (reroutes daphne's access log, once)

    stream = io.StringIO()
    access = AccessLogGenerator(stream)
    with captured_logs(every_logger_at=logging.DEBUG) as captured:
        access("http", "complete", {"path": "/x?cursor=abc", "status": 200, "method": "GET", "client": "1.2.3.4:5"})
        access("websocket", "connected", {"path": "/ws/wallet/?q=1", "client": "1.2.3.4:6"})
        access("websocket", "rejected", {"path": "/ws/wallet/?q=2", "client": "1.2.3.4:7"})
    assert stream.getvalue() == ""  # daphne's own NCSA lines: none
    http, ws, rejected = captured.lines()
    assert (http["event"], http["level"], http["path"]) == ("http_complete", "debug", "/x")
    # nginx's access line records every socket; daphne's view of one is DEBUG, a refusal INFO.
    assert (ws["event"], ws["level"], ws["path"]) == ("websocket_connected", "debug", "/ws/wallet/")
    assert (rejected["event"], rejected["level"], rejected["path"]) == ("websocket_rejected", "info", "/ws/wallet/")
    assert "cursor=abc" not in captured.text()
