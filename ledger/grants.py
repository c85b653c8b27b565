"""Least privilege: the GRANTs for a runtime role that cannot change the ledger.

The table owner (who runs migrations) can switch a trigger off; a role that
does not own the tables cannot. The runtime role gets SELECT and INSERT only
on the append-only tables, ordinary read/write on the others, no TRUNCATE,
TRIGGER or REFERENCES anywhere, and read-only use of the sequences (so it can
draw ids but not reset them). See docs/audit.md.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from ledger.triggers import APPEND_ONLY_TABLES

# Tables the runtime only reads.
READ_ONLY_TABLES = ("django_migrations",)


def runtime_grants_sql(*, connection: BaseDatabaseWrapper, role: str) -> list[str]:
    """The statements (run them as the owner, after every migrate) that set ``role`` up."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("Database roles and GRANTs are a PostgreSQL feature.")
    q = connection.ops.quote_name
    who = q(role)
    tables = sorted(connection.introspection.table_names(include_views=False))
    statements = [
        f"GRANT CONNECT ON DATABASE {q(connection.settings_dict['NAME'])} TO {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
        # Start from nothing on every table, then hand out what the service needs.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
    ]
    for table in tables:
        if table in APPEND_ONLY_TABLES:
            statements.append(f"REVOKE ALL ON {q(table)} FROM PUBLIC")
            statements.append(f"GRANT SELECT, INSERT ON {q(table)} TO {who}")
        elif table in READ_ONLY_TABLES:
            statements.append(f"GRANT SELECT ON {q(table)} TO {who}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {q(table)} TO {who}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    return statements
