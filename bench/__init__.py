"""Benchmarks: `python -m bench <name> [options]` or `make bench`. See docs/performance.md."""
