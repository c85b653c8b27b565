"""The application's side of the database cluster: the replica router and PgBouncer's transaction mode."""
