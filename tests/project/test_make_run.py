"""`make run` says where it serves, once it answers (scripts/announce.py, started by deploy/Procfile.dev)."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _announce() -> ModuleType:
    spec = importlib.util.spec_from_file_location("announce", ROOT / "scripts" / "announce.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


announce = _announce()


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_address_is_printed_once_the_server_answers(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert announce.announce(server, wait=10)
    out = capsys.readouterr().out
    assert f"Paylane is serving {server}/\n" in out
    assert f"{server}/dashboard/" in out


def test_a_server_that_never_answers_is_said_so_not_announced(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.live import free_port

    address = f"http://127.0.0.1:{free_port()}/"
    assert not announce.announce(address, wait=0.3, poll=0.05)
    out = capsys.readouterr().out
    assert "is serving" not in out
    assert f"did not answer at {address}" in out


def test_a_server_on_every_interface_is_announced_at_this_machines_address() -> None:
    assert announce.reachable("http://0.0.0.0:8000/") == "http://127.0.0.1:8000/"
    assert announce.reachable("http://192.168.1.5:8000/") == "http://192.168.1.5:8000/"


def test_make_run_starts_the_announcer_beside_the_web_server_on_its_address() -> None:
    procfile = (ROOT / "deploy" / "Procfile.dev").read_text()
    (web,) = [line for line in procfile.splitlines() if line.startswith("web:")]
    assert 'python scripts/announce.py "http://$HOST:$PORT/" &' in web
    assert web.endswith('exec daphne -b "$HOST" -p "$PORT" project.asgi:application')
