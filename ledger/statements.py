"""Statements of the hot paths, compiled by the ORM once per database alias.

Django builds and compiles a queryset into SQL again on every call. For the
few fixed statements of a transfer that costs more CPU than the database
spends running them: 0.3 to 0.5 ms to compile the wallet lock query alone,
against about 0.3 ms for its round trip (``docs/performance.md``). A
``Statement`` keeps the SQL the ORM produced the first time for a database
alias and runs it again with new parameters, on whatever connection the
calling thread has (under ASGI Django gives each request a thread, and so a
connection, of its own: a cache per connection would compile every time).
The ORM still writes the SQL (quoting, ``FOR UPDATE OF``, joins, each
backend's dialect), the queryset in the code still says what is locked and
read, and rows come back through the same converters the ORM applies
(SQLite's decimals and dates, for one).

Only values named as slots change between calls; everything else the
queryset says is fixed when it is first compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, QuerySet
from django.db.models.sql.subqueries import InsertQuery


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per parameter position: the slot whose value goes there, or None and the fixed value.
    params: tuple[tuple[str | None, Any], ...]
    # Per result column that needs it: the ORM's converters and the expression they convert for.
    converters: tuple[tuple[int, list[Any], Any], ...]


class Statement:
    """A SELECT built by ``build(**slots)`` and compiled once per database alias.

    ``slots`` gives each changing value a stand-in of the same type that
    appears nowhere else in the query (a negative id, say): compiling with the
    stand-ins shows where each value goes among the parameters.
    """

    def __init__(self, build: Callable[..., QuerySet[Any, Any]], **slots: Any) -> None:
        self.build = build
        self.slots = slots
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def rows(self, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[list[Any]]:
        """Run the statement with ``values`` for its slots; the rows as the ORM would convert them."""
        connection = connections[using]
        compiled = self._compiled.get((using, connection.vendor)) or self._compile(connection)
        params = [values[slot] if slot is not None else fixed for slot, fixed in compiled.params]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for position, converters, expression in compiled.converters:
                for convert in converters:
                    row[position] = convert(row[position], expression, connection)
        return rows

    def _compile(self, connection: BaseDatabaseWrapper) -> _Compiled:
        compiler = self.build(**self.slots).query.get_compiler(connection=connection)
        sql, raw_params = compiler.as_sql()
        params: list[tuple[str | None, Any]] = []
        for value in raw_params:
            slot = next(
                (name for name, stand_in in self.slots.items() if type(value) is type(stand_in) and value == stand_in),
                None,
            )
            params.append((slot, None) if slot is not None else (None, value))
        missing = set(self.slots) - {slot for slot, _ in params}
        if missing:
            raise ValueError(f"slots not found among the compiled parameters: {sorted(missing)}")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = tuple(
            (position, list(found), expression)
            for position, (found, expression) in compiler.get_converters(fields).items()
        )
        compiled = _Compiled(sql, tuple(params), converters)
        self._compiled[(connection.alias, connection.vendor)] = compiled
        return compiled


class Insert:
    """An INSERT of one row of ``model`` returning its primary key, compiled once per database alias."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.fields: Sequence[Field[Any, Any]] = [f for f in model._meta.concrete_fields if not f.primary_key]
        self._sql: dict[tuple[str, str], str] = {}

    def save(self, instance: Model, using: str = DEFAULT_DB_ALIAS) -> None:
        """Insert ``instance`` (a new row) and give it its primary key, as ``save(force_insert=True)`` would.

        Unlike ``save()``, no ``pre_save``/``post_save`` signal is sent (the
        house style keeps logic out of signals; nothing listens to these rows).
        """
        connection = connections[using]
        sql = self._sql.get((using, connection.vendor)) or self._compile(connection, instance)
        params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            (pk,) = cursor.fetchone()
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = using

    def _compile(self, connection: BaseDatabaseWrapper, instance: Model) -> str:
        query = InsertQuery(self.model)
        query.insert_values(self.fields, [instance])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [self.model._meta.pk]
        ((sql, _params),) = compiler.as_sql()
        self._sql[(connection.alias, connection.vendor)] = sql
        return sql
