"""The history's filters on a large ledger: which index each query uses, and how long it takes.

A benchmark, not a test: ``make bench BENCH=history_plans`` (or ``python -m bench history_plans``).
It recreates its own database (``paylane_h3_bench`` by default), migrates it, and fills it FAST
with ``INSERT ... SELECT generate_series``: ``--users`` users and ``--rows`` ledger rows (1,000,000
by default) spread over a year, one "heavy" user in about a tenth of them (``--heavy-share``).
The rows satisfy every constraint of the ledger (types, parties, figures) but their hashes are
blank and their balances dummy: ``verify_ledger`` would report them; it is never run here.

Then, for a heavy and an ordinary user, each filter of ``GET /api/v1/transactions/`` is put to
the very statement the API runs for a first page (``wallets.selectors.history_filter`` and
``ledger.selectors.visible_page_sql``, ``limit`` 20 + 1), under ``EXPLAIN (ANALYZE, BUFFERS)``:
the indexes the plan reads, whether any table is scanned whole, the execution time (the median
of ``--repeat`` runs, warm cache) and the buffers of the last run. Results:
``bench/results/<name>.json``; the table is printed as Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import date, timedelta
from typing import Any

from bench import harness

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/paylane_h3_bench"
NAMES = ["asha", "ravi", "meera", "john", "priya", "karan", "li", "sofia", "omar", "kofi"]
NOTES = ["rent", "pizza", "coffee beans", "groceries", "taxi home", "electricity bill", "movie night", "books"]
FIRST_DAY = date(2025, 12, 1)
DAYS = 365
PAGE = 20


def fill(*, users: int, rows: int, heavy_share: float) -> None:
    """Users and ledger rows by the million, in a few statements (user 1 is the heavy one)."""
    from django.core.management import call_command
    from django.db import connection

    # Rows first, then the history's indexes: the migration before 0010_history_indexes, the fill,
    # then the rest of the migrations (CREATE INDEX over a full table is far faster than a million
    # inserts into sixteen indexes, two of them GIN).
    call_command("migrate", "ledger", _before_history_indexes(), verbosity=0)
    names = "ARRAY[" + ",".join(f"'{n}'" for n in NAMES) + "]"
    notes = "ARRAY[" + ",".join(f"'{n}'" for n in NOTES) + "]"
    # One in ``every`` rows is the heavy user's, half sent, half received.
    every = max(2, round(2 / heavy_share))
    seconds_per_row = DAYS * 86400 / rows
    with connection.cursor() as cursor:
        # Filling takes longer than a request may (PAYLANE_DB_STATEMENT_TIMEOUT): no limit for this session.
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            "INSERT INTO wallets_user (password, is_superuser, username, first_name, last_name, email, "
            "is_staff, is_active, date_joined) "
            f"SELECT '!', false, ({names})[1 + g % {len(NAMES)}] || lpad(g::text, 7, '0'), '', '', '', "
            f"false, true, now() FROM generate_series(1, {int(users)}) g"
        )
        cursor.execute("SELECT min(id), max(id) FROM wallets_user")
        first, last = cursor.fetchone()
        others = last - first  # ids first+1 .. last are the ordinary users
        # h: a spread of g; the sender and receiver are two different ordinary users, or the heavy one.
        cursor.execute(
            f"""
            WITH spread AS (
                SELECT g, (g * 2654435761) % 4294967296 AS h FROM generate_series(1, {int(rows)}) g
            ), parties AS (
                SELECT g, h,
                    CASE WHEN g % 10 = 0 THEN 'ADD_MONEY' ELSE 'TRANSFER' END AS kind,
                    {first} + 1 + h % {others} AS a,
                    {first} + 1 + (h % {others} + 1 + (h / {others}) % ({others} - 1)) % {others} AS b
                FROM spread
            ), placed AS (
                SELECT g, h, kind,
                    CASE WHEN kind = 'ADD_MONEY' THEN NULL
                         WHEN g % {every} = 1 THEN {first}
                         ELSE a END AS sender_id,
                    CASE WHEN kind = 'ADD_MONEY' AND g % 200 = 0 THEN {first}
                         WHEN kind = 'TRANSFER' AND g % {every} = 2 THEN {first}
                         ELSE b END AS receiver_id,
                    CASE WHEN kind = 'TRANSFER' AND g % 23 = 0 THEN 'FAILED' ELSE 'SUCCESS' END AS status
                FROM parties
            )
            INSERT INTO ledger_transaction (
                transaction_type, status, amount, currency, sender_id, receiver_id,
                sender_balance_after, sender_version_after, receiver_balance_after, receiver_version_after,
                failure_reason, created_at, row_hash, note, corrects_id)
            SELECT kind, status, 1 + (h % 500000) / 100.0, 'INR', sender_id, receiver_id,
                CASE WHEN sender_id IS NULL THEN NULL ELSE 0 END,
                CASE WHEN sender_id IS NULL THEN NULL ELSE g END,
                CASE WHEN status = 'FAILED' THEN NULL ELSE 0 END,
                CASE WHEN status = 'FAILED' THEN NULL ELSE g END,
                CASE WHEN status = 'FAILED' THEN 'insufficient_funds' ELSE '' END,
                timestamptz '{FIRST_DAY.isoformat()} 00:00+05:30' + g * interval '{seconds_per_row} seconds',
                '',
                CASE WHEN g % 7 = 0 THEN '' ELSE ({notes})[1 + g % {len(NOTES)}] || ' ' || substr(md5(g::text), 1, 6)
                END,
                NULL
            FROM placed ORDER BY placed.g
            """
        )
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the index builds too
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # Autocommit (no transaction open): VACUUM sets the visibility map, so index-only scans stay index-only.
        cursor.execute("VACUUM ANALYZE ledger_transaction")
        cursor.execute("ANALYZE wallets_user")


def _before_history_indexes() -> str:
    """The ledger migration that 0010_history_indexes follows (whatever it is on this branch)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    node = MigrationLoader(connection).graph.node_map[("ledger", "0010_history_indexes")]
    return next(parent.key[1] for parent in node.parents if parent.key[0] == "ledger")


def cases(*, heavy: int, ordinary: int) -> list[tuple[str, int, dict[str, str]]]:
    """(label, user id, query parameters): each filter alone, then a few together."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Someone the heavy user paid; a note word that is rare (one row's hex tag); a username part.
        cursor.execute(
            "SELECT receiver_id, substr(note, length(note) - 5) FROM ledger_transaction "
            "WHERE sender_id = %s AND note <> '' ORDER BY id DESC LIMIT 1",
            [heavy],
        )
        partner, rare = cursor.fetchone()
        cursor.execute("SELECT username FROM wallets_user WHERE id = %s", [partner])
        partner_name = cursor.fetchone()[0]
        cursor.execute(
            "SELECT receiver_id FROM ledger_transaction WHERE sender_id = %s ORDER BY id DESC LIMIT 1", [ordinary]
        )
        ordinary_partner = cursor.fetchone()[0]
    last_day = FIRST_DAY + timedelta(days=DAYS - 1)
    middle = FIRST_DAY + timedelta(days=DAYS // 2)
    filters: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("none", {}, {}),
        ("since (last 7 days)", {"since": (last_day - timedelta(days=6)).isoformat()}, {}),
        ("since (the whole year)", {"since": FIRST_DAY.isoformat()}, {}),
        ("until (first 7 days)", {"until": (FIRST_DAY + timedelta(days=6)).isoformat()}, {}),
        ("since = until (one day)", {"since": middle.isoformat(), "until": middle.isoformat()}, {}),
        ("counterparty", {"counterparty": str(partner)}, {"counterparty": str(ordinary_partner)}),
        ("direction=in", {"direction": "in"}, {}),
        ("direction=out", {"direction": "out"}, {}),
        ("type=ADD_MONEY", {"type": "ADD_MONEY"}, {}),
        ("type=REFUND (none)", {"type": "REFUND"}, {}),
        ("status=FAILED", {"status": "FAILED"}, {}),
        ("min_amount=4990", {"min_amount": "4990"}, {}),
        ("max_amount=2", {"max_amount": "2"}, {}),
        ("min_amount=1 (every amount)", {"min_amount": "1"}, {}),
        ("q=coffee (common note)", {"q": "coffee"}, {}),
        ("q=<hex tag> (rare note)", {"q": rare}, {}),
        ("q=<username> (name)", {"q": partner_name}, {}),
        (
            "counterparty + since + q",
            {"counterparty": str(partner), "since": middle.isoformat(), "q": "rent"},
            {"counterparty": str(ordinary_partner), "since": middle.isoformat(), "q": "rent"},
        ),
        ("type + status + min_amount", {"type": "TRANSFER", "status": "SUCCESS", "min_amount": "4000"}, {}),
    ]
    out: list[tuple[str, int, dict[str, str]]] = []
    for label, params, ordinary_params in filters:
        out.append((label, heavy, params))
        out.append((label, ordinary, ordinary_params or params))
    return out


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _walk(child))]


def explain(*, user_id: int, params: dict[str, str], repeat: int) -> dict[str, Any]:
    """The API's first-page statement for ``params`` under EXPLAIN (ANALYZE, BUFFERS)."""
    import json

    from django.db import connection

    from ledger.selectors import visible_page_sql
    from wallets.history import history_query_parse
    from wallets.selectors import history_filter

    statement = visible_page_sql(
        user_id=user_id, limit=PAGE + 1, filters=history_filter(query=history_query_parse(params))
    )
    if statement is None:
        return {"indexes": [], "seq_scans": [], "ms": 0.0, "rows": 0, "hit": 0, "read": 0, "note": "no query"}
    sql, sql_params = statement
    times: list[float] = []
    plan: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for _ in range(repeat):
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", sql_params)
            raw = cursor.fetchone()[0]
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            times.append(float(plan["Execution Time"]))
    nodes = _walk(plan["Plan"])
    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    seq = sorted({n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"})
    top = plan["Plan"]
    return {
        "indexes": indexes,
        "seq_scans": seq,
        "ms": round(statistics.median(times), 3),
        "rows": top.get("Actual Rows", 0),
        "hit": top.get("Shared Hit Blocks", 0),
        "read": top.get("Shared Read Blocks", 0),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench history_plans", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--heavy-share", type=float, default=0.1, help="share of rows that are the heavy user's")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--name", default="history_plans", help="result file: bench/results/<name>.json")
    parser.add_argument(
        "--reuse", action="store_true", help="explain on the database a previous run filled (migrated again)"
    )
    args = parser.parse_args(argv)

    import time

    if not args.reuse:
        harness.database_recreate(args.database_url)
    harness.django_setup(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    began = time.perf_counter()
    if args.reuse:
        call_command("migrate", verbosity=0)
    else:
        fill(users=args.users, rows=args.rows, heavy_share=args.heavy_share)
    fill_seconds = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM wallets_user")
        heavy = cursor.fetchone()[0]
        # An ordinary user: the receiver of the newest transfer the heavy user is not part of.
        cursor.execute(
            "SELECT receiver_id FROM ledger_transaction WHERE sender_id <> %s AND receiver_id <> %s "
            "AND transaction_type = 'TRANSFER' ORDER BY id DESC LIMIT 1",
            [heavy, heavy],
        )
        ordinary = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FILTER (WHERE sender_id = %s OR receiver_id = %s), "
            "count(*) FILTER (WHERE sender_id = %s OR receiver_id = %s), count(*) FROM ledger_transaction",
            [heavy, heavy, ordinary, ordinary],
        )
        heavy_rows, ordinary_rows, total = cursor.fetchone()
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]

    results: list[dict[str, Any]] = []
    for label, user_id, params in cases(heavy=heavy, ordinary=ordinary):
        who = "heavy" if user_id == heavy else "ordinary"
        measured = explain(user_id=user_id, params=params, repeat=args.repeat)
        results.append({"filter": label, "user": who, "params": params, **measured})
    payload = {
        "rows": total,
        "users": args.users,
        "heavy_user_rows": heavy_rows,
        "ordinary_user_rows": ordinary_rows,
        "fill_seconds": round(fill_seconds, 1),
        "reused": args.reuse,
        "postgresql": server,
        "page": PAGE,
        "results": results,
    }
    path = harness.write_results(args.name, payload)
    print(
        f"{total:,} ledger rows, {args.users:,} users (heavy user: {heavy_rows:,} rows, ordinary: {ordinary_rows:,}); "
        f"filled in {fill_seconds:.1f} s; PostgreSQL {server}"
    )
    print(markdown(results))
    print(f"results: {path}")
    return payload


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| Filter | User | Indexes read | Whole-table scan | Time (ms) | Rows | Buffers hit/read |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in results:
        indexes = ", ".join(f"`{i}`" for i in r["indexes"]) or r.get("note", "")
        seq = ", ".join(r["seq_scans"]) or "none"
        buffers = f"{r['hit']}/{r['read']}"
        lines.append(f"| {r['filter']} | {r['user']} | {indexes} | {seq} | {r['ms']:.3f} | {r['rows']} | {buffers} |")
    return "\n".join(lines)
