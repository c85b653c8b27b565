DROP TRIGGER IF EXISTS {table}_no_update;
DROP TRIGGER IF EXISTS {table}_no_delete;
DROP TRIGGER IF EXISTS {table}_no_replace;
