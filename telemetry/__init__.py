"""Operations' instruments, at the floor: every layer may count, none learns about the project.

``telemetry.metrics`` holds every Prometheus metric object of the service (the
catalogue, docs/operations.md "Metrics"). The ledger, the domain, the websocket
and the project import it; it imports nothing of ours (an import-linter
contract in pyproject.toml), so counting from inside the domain needs no
import of ``project``, which only the project's entry points may know.
The ``/metrics`` view, the scrape-time gauges of the database, health checks
and logging live in ``project/observability/``.
"""
