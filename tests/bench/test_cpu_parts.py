"""Where the machine's CPU went, part by part (bench/cpu_parts.py): roles, finished children, and
a PostgreSQL backend's time kept after it exits."""

from __future__ import annotations

import multiprocessing
import os
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bench import cpu_parts


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@pytest.mark.parametrize(
    ("command", "server", "part"),
    [
        ("/v/bin/python /v/bin/gunicorn --bind 127.0.0.1:30001 project.wsgi:application", "gunicorn", "web"),
        ("/v/bin/python /v/bin/daphne --bind 127.0.0.1 --port 30101 -v 1 project.asgi:application", "gunicorn", "ws"),
        ("/v/bin/python /v/bin/daphne --bind 127.0.0.1 --port 30001 -v 1 project.asgi:application", "daphne", "web"),
        ("/v/bin/python -m honcho start --procfile /tmp/paylane-bench-x/Procfile", "gunicorn", "relay"),
        ("/v/bin/python -m deploy.relay start --procfile /tmp/paylane-bench-x/Procfile", "gunicorn", "relay"),
        ("/v/bin/python /work/deploy/serve.py", "gunicorn", "relay"),
        ("nginx: worker process", "gunicorn", "nginx"),
    ],
)
def test_each_process_of_the_stack_has_its_part(command: str, server: str, part: str) -> None:
    assert cpu_parts.role(command, server) == part


def test_a_finished_child_counts_once_it_is_waited_for() -> None:
    meter = cpu_parts.Meter(None, None)
    before = meter.snapshot()
    child = multiprocessing.get_context("fork").Process(target=burn, args=(0.3,))
    child.start()
    child.join()
    split = cpu_parts.per_op(before, meter.snapshot(), 3, children="workers")
    assert split["workers"] >= 0.25 * 1000 / 3 * 0.9  # 0.3 s over 3 operations, in ms each
    assert split["total"] == pytest.approx(sum(v for k, v in split.items() if k != "total"), abs=0.01)


def test_per_op_of_no_operation_is_empty() -> None:
    assert cpu_parts.per_op({"children": 0.0}, {"children": 1.0}, 0, children="clients") == {}


@pytest.mark.postgres
def test_a_postgresql_backend_that_exited_still_counts() -> None:
    url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))  # the server's own
    meter = cpu_parts.Meter(url, None)
    if meter.postmaster is None:
        pytest.skip("PostgreSQL does not run on this machine")
    before = meter.snapshot()
    with psycopg.connect(url, autocommit=True) as conn:  # its backend exits with it
        started = time.monotonic()
        while time.monotonic() - started < 0.3:
            conn.execute("SELECT count(*) FROM generate_series(1, 200000)")
    time.sleep(0.2)  # the postmaster reaps it
    assert cpu_parts.per_op(before, meter.snapshot(), 1, children="workers")["postgres"] >= 200
