-- Append-only: refuse UPDATE, DELETE and TRUNCATE on {table}.
-- Row triggers catch UPDATE/DELETE from any client (ORM, admin, psql);
-- TRUNCATE fires no row trigger, so it gets a statement trigger of its own.
CREATE OR REPLACE FUNCTION paylane_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE OR REPLACE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION paylane_refuse_change();

CREATE OR REPLACE TRIGGER {table}_no_truncate
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION paylane_refuse_change();
