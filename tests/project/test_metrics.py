"""``GET /metrics``: who may read it, every family it promises, and figures that move with what happens.

In process the figures are this process's own (no ``PROMETHEUS_MULTIPROC_DIR``),
so each test compares before and after. The multiprocess sum across two real
daphnes is ``test_metrics_live.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from ledger.selectors import ledger_gauges
from ledger.services import ledger_seal
from realtime.events import CLOSE_UNAUTHENTICATED
from tests.ledger.test_tamper import tamper
from tests.realtime.communicator import WAIT, communicator, connected, run
from tests.wallets.api.conftest import Api
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.errors import InsufficientFunds, RecipientNotFound
from wallets.models import User

TOKEN = "metrics-scrape-token-for-tests"

# Every family docs/operations.md promises (a histogram's samples carry _bucket/_count/_sum).
FAMILIES = [
    "paylane_money_movements",
    "paylane_transfer_duration_seconds",
    "paylane_http_request_duration_seconds",
    "paylane_push_commit_to_publish_seconds",
    "paylane_pushes_dropped",
    "paylane_websockets_open",
    "paylane_websocket_handshakes",
    "paylane_rate_limited",
    "paylane_db_pool_connections",
    "paylane_db_pool_waiting",
    "paylane_database_up",
    "paylane_ledger_unsealed_rows",
    "paylane_ledger_last_seal_timestamp_seconds",
    "paylane_ledger_last_verify_timestamp_seconds",
    "paylane_ledger_last_verify_ok",
    "paylane_ledger_last_verify_findings",
]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    families: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return families, samples


def scrape(client: Client | None = None, **headers: str) -> Samples:
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    return parse(response.content.decode())[1]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- Who may read ------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_a_token_set_only_a_request_bearing_it_reads_the_metrics(client: Client, settings: Any) -> None:
    settings.PAYLANE_METRICS_TOKEN = TOKEN
    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, REMOTE_ADDR="203.0.113.9")
    assert missing.status_code == wrong.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert right["Content-Type"].startswith("text/plain")
    assert "no-store" in right["Cache-Control"]


@pytest.mark.django_db
def test_without_a_token_only_the_loopback_reads_the_metrics(client: Client, settings: Any) -> None:
    settings.PAYLANE_METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.8").status_code == 403
    # Behind a proxy on this host the peer is the loopback: the client it forwarded for decides.
    settings.PAYLANE_PROXY_COUNT = 1
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 403


@pytest.mark.django_db
def test_every_promised_family_is_exposed(client: Client) -> None:
    families, _ = parse(client.get("/metrics").content.decode())
    assert set(FAMILIES) <= families, sorted(set(FAMILIES) - families)


@pytest.mark.django_db
def test_an_openmetrics_scraper_gets_openmetrics(client: Client) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


# --- Figures that move -------------------------------------------------------------------


@pytest.mark.django_db
def test_money_movements_are_counted_by_type_and_outcome_with_the_reason(
    alice: User, bob: User, register: Callable[..., User]
) -> None:
    before = scrape()
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10")
    services.wallet_top_up(user=bob, amount="5")
    with pytest.raises(InsufficientFunds):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000")  # recorded as FAILED
    with pytest.raises(RecipientNotFound):
        services.transfer_create(sender=alice, to_user_id=999_999, amount="1")  # refused, nothing recorded
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "paylane_money_movements_total"
    assert moved(total, type="transfer", outcome="success", reason="") == 1
    assert moved(total, type="add_money", outcome="success", reason="") == 1
    assert moved(total, type="transfer", outcome="failed", reason="insufficient_funds") == 1
    assert moved(total, type="transfer", outcome="refused", reason="recipient_not_found") == 1
    latency = "paylane_transfer_duration_seconds_count"
    assert moved(latency, outcome="success") == 1
    assert moved(latency, outcome="failed") == 1
    assert moved(latency, outcome="refused") == 1


@pytest.mark.django_db
def test_a_throttled_request_is_counted_under_its_limit(alice: User, bob: User, settings: Any) -> None:
    settings.PAYLANE_TRANSFER_RATE = "1/m"
    api = Api(token_issue(user=alice))
    before = scrape()
    assert api.post("/api/v1/transfers/", {"to_user_id": bob.pk, "amount": "1.00"}).status_code == 201
    assert api.post("/api/v1/transfers/", {"to_user_id": bob.pk, "amount": "1.00"}).status_code == 429
    after = scrape()
    limited = "paylane_rate_limited_total"
    assert value(after, limited, limit="money") - value(before, limited, limit="money") == 1


@pytest.mark.django_db
def test_http_latency_is_observed_by_route_pattern_not_by_path(alice: User) -> None:
    api = Api(token_issue(user=alice))
    route = "/api/v1/transactions/<int:transaction_id>/"
    count = "paylane_http_request_duration_seconds_count"
    before = scrape()
    assert api.get("/api/v1/transactions/123456/").status_code == 404
    after = scrape()
    assert (
        value(after, count, method="GET", route=route, status="404")
        - value(before, count, method="GET", route=route, status="404")
        == 1
    )
    assert not any("123456" in dict(labels).get("route", "") for _, labels in after)


@pytest.mark.django_db
def test_a_push_is_timed_from_commit_to_publish(
    alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="3")
    after = scrape()
    count = "paylane_push_commit_to_publish_seconds_count"
    assert value(after, count) - value(before, count) == 2  # one message to each party


@pytest.mark.django_db(transaction=True)
def test_open_websockets_and_handshakes_are_counted(alice: User) -> None:
    open_, handshakes = "paylane_websockets_open", "paylane_websocket_handshakes_total"
    before = scrape()

    async def scenario() -> tuple[Samples, Samples]:
        comm, _ = await connected(alice)
        during = await sync_to_async(scrape)()
        await comm.disconnect()
        stranger = communicator([(b"authorization", b"Bearer not-a-token")])
        await stranger.connect(timeout=WAIT)
        assert (await stranger.receive_output(timeout=WAIT))["code"] == CLOSE_UNAUTHENTICATED
        await stranger.disconnect()
        return during, await sync_to_async(scrape)()

    during, after = run(scenario)

    def moved(samples: Samples, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    assert moved(during, open_) == 1
    assert moved(after, open_) == 0  # closed again
    assert moved(after, handshakes, outcome="accepted") == 1
    assert moved(after, handshakes, outcome="unauthenticated") == 1


# --- The ledger's gauges: read at scrape time, cheaply -----------------------------------


@pytest.mark.django_db
def test_unsealed_rows_and_the_last_seal_follow_the_ledger(alice: User, bob: User) -> None:
    ledger_seal()
    sealed = scrape()
    assert value(sealed, "paylane_ledger_unsealed_rows") == 0
    assert value(sealed, "paylane_ledger_last_seal_timestamp_seconds") > 0
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="2")
    assert value(scrape(), "paylane_ledger_unsealed_rows") == 1


@pytest.mark.django_db
def test_the_last_verify_ledger_run_is_reported_with_its_result_and_time(alice: User, bob: User) -> None:
    assert value(scrape(), "paylane_ledger_last_verify_timestamp_seconds") == 0  # never ran
    call_command("verify_ledger")
    good = scrape()
    assert value(good, "paylane_ledger_last_verify_ok") == 1
    assert value(good, "paylane_ledger_last_verify_findings") == 0
    assert value(good, "paylane_ledger_last_verify_timestamp_seconds") > 0

    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="7")
    tamper("UPDATE ledger_transaction SET amount = %s WHERE id = %s", ["700", entry.pk])
    with pytest.raises(CommandError):
        call_command("verify_ledger")
    bad = scrape()
    assert value(bad, "paylane_ledger_last_verify_ok") == 0
    assert value(bad, "paylane_ledger_last_verify_findings") >= 1
    assert value(bad, "paylane_ledger_last_verify_timestamp_seconds") >= value(
        good, "paylane_ledger_last_verify_timestamp_seconds"
    )


@pytest.mark.django_db
def test_the_ledger_gauges_are_index_lookups_not_scans(alice: User, bob: User, vendor: str) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    ledger_seal()
    with CaptureQueriesContext(connection) as queries:
        ledger_gauges()
    assert len(queries) == 3
    for query in queries:
        sql = query["sql"].upper()
        assert "COUNT(" not in sql and "SUM(" not in sql and "LIMIT 1" in sql, sql
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("EXPLAIN " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan and "Aggregate" not in plan, plan


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_connection_pool_in_use_is_reported(alice: User) -> None:
    assert connection.pool is not None  # type: ignore[attr-defined]
    samples = scrape()  # the test holds its connection (the test's transaction): at least one is in use
    assert value(samples, "paylane_db_pool_connections", state="in_use") >= 1
    assert value(samples, "paylane_db_pool_waiting") == 0
