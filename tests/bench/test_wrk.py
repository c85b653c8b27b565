"""`bench http`'s load generator: wrk sends what a program sends, and counts only a 201 as a transfer.

A small HTTP server of the test's own stands in for the stack and keeps every request it got.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench import wrk

TOKENS = {11: "token-of-eleven", 12: "token-of-twelve", 13: "token-of-thirteen"}
PIN = "04826"


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.status = status
        self.seen: list[dict[str, Any]] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx answers
    server: Recorder

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer = b'{"id": 1}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    recorder = Recorder(getattr(request, "param", 201))
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


def url(server: Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_every_request_is_a_payment_by_a_payer_with_their_token_the_pin_and_a_new_key(server: Recorder) -> None:
    run = wrk.transfers("api/test", url(server), TOKENS, PIN, connections=4, seconds=1).summary()

    assert run["errors"] == 0 and run["ops"] > 10 and run["client"] == "wrk"
    # Every answered request was seen; at most one per connection was still in flight at the end.
    assert run["ops"] <= len(server.seen) <= run["ops"] + 4
    payer_of = {f"Bearer {token}": pk for pk, token in TOKENS.items()}
    for seen in server.seen:
        assert seen["path"] == "/api/v1/transfers/"
        assert seen["headers"]["Content-Type"] == "application/json"
        payer = payer_of[seen["headers"]["Authorization"]]
        assert seen["body"] == {"to_user_id": seen["body"]["to_user_id"], "amount": "1.00", "pin": PIN}
        assert seen["body"]["to_user_id"] in TOKENS and seen["body"]["to_user_id"] != payer
    keys = [seen["headers"]["Idempotency-Key"] for seen in server.seen]
    assert len(set(keys)) == len(keys)
    assert {payer_of[s["headers"]["Authorization"]] for s in server.seen} == set(TOKENS)  # all pay
    assert {s["body"]["to_user_id"] for s in server.seen} == set(TOKENS)  # and are paid


@pytest.mark.parametrize("server", [200, 403, 422], indirect=True)
def test_an_answer_other_than_201_is_an_error_not_a_transfer(server: Recorder) -> None:
    # 200 is an idempotent replay: no new transfer either.
    run = wrk.transfers("api/test", url(server), TOKENS, PIN, connections=2, seconds=1).summary()

    assert run["ops"] == 0
    assert len(server.seen) - 2 <= run["errors"] <= len(server.seen) and run["errors"] > 0


def test_two_runs_never_send_the_same_key(server: Recorder) -> None:
    for _ in range(2):
        wrk.transfers("api/test", url(server), TOKENS, PIN, connections=2, seconds=1)
    keys = [seen["headers"]["Idempotency-Key"] for seen in server.seen]
    assert len(set(keys)) == len(keys)


def test_a_server_that_is_not_there_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="wrk"):
        wrk.transfers("api/test", "http://127.0.0.1:1", TOKENS, PIN, connections=2, seconds=1)
