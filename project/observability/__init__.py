"""Operations' side of the project: health checks, ``/metrics``, logging, the request middleware.

The metric objects themselves are ``telemetry.metrics`` (the floor every layer
may import); this package serves and configures them. docs/operations.md.
"""
