"""Which database errors mean "the connection died" (503 ``database_unavailable``), on any backend.

The end-to-end proof, with a real backend terminated mid-transaction, is
tests/wallets/test_db_connection_lost.py (PostgreSQL); these pin the classifier
and the middleware that answers for the views that do not answer it themselves.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, InterfaceError, InternalError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from project.middleware import DatabaseUnavailableMiddleware
from wallets.busy import busy_on_timeout
from wallets.database_unavailable import is_connection_lost
from wallets.errors import Busy, DatabaseUnavailable


def _django(kind: type[DatabaseError], cause: BaseException) -> DatabaseError:
    """Django's wrapper around a driver error, as ``DatabaseErrorWrapper`` raises it."""
    error = kind(*cause.args)
    error.__cause__ = cause
    return error


def _pg(sqlstate_class: type[psycopg.Error], message: str = "boom") -> psycopg.Error:
    return sqlstate_class(message)


@pytest.mark.parametrize(
    "error",
    [
        _django(
            OperationalError, _pg(psycopg.errors.AdminShutdown, "terminating connection due to administrator command")
        ),
        _django(OperationalError, _pg(psycopg.errors.ProtocolViolation, "server conn crashed?")),  # PgBouncer, 08P01
        _django(OperationalError, _pg(psycopg.errors.CannotConnectNow)),
        _django(OperationalError, _pg(psycopg.errors.TooManyConnections)),
        _django(OperationalError, psycopg.OperationalError("consuming input failed: server closed the connection")),
        _django(InterfaceError, psycopg.InterfaceError("the connection is closed")),
        InterfaceError("connection already closed"),
        # A demoted primary (a standby now) or a read-only database, refusing a write.
        _django(InternalError, _pg(psycopg.errors.ReadOnlySqlTransaction, "cannot execute INSERT in a read-only")),
    ],
    ids=["57P01", "08P01", "57P03", "53300", "socket", "psycopg-closed", "django-closed", "25006"],
)
def test_a_dead_connection_is_database_unavailable(error: DatabaseError) -> None:
    assert is_connection_lost(error)
    with pytest.raises(DatabaseUnavailable), busy_on_timeout():
        raise error


@pytest.mark.parametrize(
    "error",
    [
        _django(OperationalError, _pg(psycopg.errors.LockNotAvailable)),  # lock_timeout: busy
        _django(OperationalError, _pg(psycopg.errors.QueryCanceled)),  # statement_timeout: busy
        OperationalError("database is locked"),  # SQLite's busy timeout: busy
        OperationalError("no such table: wallets_wallet"),  # a bug: 500
        _django(IntegrityError, _pg(psycopg.errors.UniqueViolation)),
        _django(InternalError, _pg(psycopg.errors.InFailedSqlTransaction)),  # 25P02: a bug, 500
        ValueError("not a database error"),
    ],
    ids=["55P03", "57014", "sqlite-locked", "sqlite-other", "integrity", "25P02", "other"],
)
def test_timeouts_and_other_errors_are_not(error: Exception) -> None:
    assert not is_connection_lost(error)


def test_a_timeout_stays_busy() -> None:
    with pytest.raises(Busy), busy_on_timeout():
        raise _django(OperationalError, _pg(psycopg.errors.LockNotAvailable))


def _middleware() -> DatabaseUnavailableMiddleware:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    return DatabaseUnavailableMiddleware(view)


LOST = _django(OperationalError, _pg(psycopg.errors.AdminShutdown))


def test_a_page_view_that_loses_the_database_answers_a_503_page_that_needs_no_database() -> None:
    request = RequestFactory().get("/history/")
    response = _middleware().process_exception(request, LOST)
    assert response is not None
    assert (response.status_code, response["Retry-After"]) == (503, "1")
    assert b"lost the connection to our database" in response.content


def test_an_api_view_that_loses_the_database_answers_the_envelope() -> None:
    response = _middleware().process_exception(RequestFactory().get("/api/v1/wallet/"), LOST)
    assert response is not None
    assert response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "database_unavailable"


def test_other_errors_are_left_to_the_500_handler() -> None:
    assert _middleware().process_exception(RequestFactory().get("/"), ValueError("bug")) is None
