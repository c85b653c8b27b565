"""``VendorSQL``: a migration operation that runs the SQL its migration gives for the database's vendor.

The SQL itself lives in each migration, frozen as it was applied (django-hordak's
way): this module only picks the vendor's statements and runs them in order,
so ``sqlmigrate`` prints exactly what a migration does. It never reads
``ledger/sql/``: those files are the *current* definitions, which
``post_migrate`` re-applies (``ledger.triggers``), and editing them must not
rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

# (forward statements, reverse statements), each one statement per string.
Statements = tuple[Sequence[str], Sequence[str]]


class VendorSQL(Operation):
    """Run the vendor's forward statements (backwards: its reverse ones); refuse any other vendor.

    A vendor given ``([], [])`` needs nothing, on purpose (the migration says
    why). Any other vendor is an error, not a silent no-op: a ledger migrated
    onto it would be left unprotected.
    """

    reversible = True
    reduces_to_sql = True
    elidable = False

    def __init__(self, *, postgresql: Statements, sqlite: Statements, hints: dict[str, Any] | None = None) -> None:
        self.by_vendor = {"postgresql": postgresql, "sqlite": sqlite}
        self.hints = hints or {}

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = dict(self.by_vendor)
        if self.hints:
            kwargs["hints"] = self.hints
        return (self.__class__.__qualname__, [], kwargs)

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass  # SQL only: the models do not change

    def database_forwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        self._run(app_label, schema_editor, forwards=True)

    def database_backwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        self._run(app_label, schema_editor, forwards=False)

    def describe(self) -> str:
        return f"Raw SQL for {', '.join(sorted(self.by_vendor))}"

    def _run(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, *, forwards: bool) -> None:
        connection = schema_editor.connection
        if not router.allow_migrate(connection.alias, app_label, **self.hints):
            return
        if connection.vendor not in self.by_vendor:
            raise NotImplementedError(f"This migration has no SQL for the {connection.vendor} backend.")
        forward, reverse = self.by_vendor[connection.vendor]
        for sql in forward if forwards else reverse:
            schema_editor.execute(sql, params=None)
