-- Append-only: refuse UPDATE and DELETE on {table}. SQLite has no TRUNCATE
-- statement (its "truncate optimisation" is skipped when a DELETE trigger exists).
CREATE TRIGGER IF NOT EXISTS {table}_no_update
    BEFORE UPDATE ON {table}
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE on {table} is refused');
END;

CREATE TRIGGER IF NOT EXISTS {table}_no_delete
    BEFORE DELETE ON {table}
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE on {table} is refused');
END;
