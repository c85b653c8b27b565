"""Test support shared by several test packages: real processes (daphne, redis-server) and chaos helpers."""
