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

-- INSERT OR REPLACE (and REPLACE INTO) resolves a conflict on the primary key or
-- any UNIQUE column by deleting the old row, and fires no DELETE trigger for it
-- (unless a connection turned recursive_triggers on): a rewrite in the shape of
-- an insert. Refuse any insert that meets an existing row on one of those keys.
-- ({same_key} lists them, from ledger.triggers.REPLACE_KEYS.) In a BEFORE INSERT
-- trigger an id the database is about to assign reads as -1; ids start at 1, and a
-- row planted at -1 would stop every insert (fail closed, and loudly).
CREATE TRIGGER IF NOT EXISTS {table}_no_replace
    BEFORE INSERT ON {table}
    WHEN EXISTS (SELECT 1 FROM {table} WHERE {same_key})
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: an INSERT that meets an existing row of {table} on its primary key or a UNIQUE column is refused');
END;
