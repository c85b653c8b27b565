"""The observability app: hooks that need the app registry (the pool sampler, the exit hook)."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ObservabilityConfig(AppConfig):
    name = "project.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from project.observability import metrics

        connection_created.connect(metrics.pool_sampler_start, dispatch_uid="paylane_pool_sampler")
        metrics.process_exit_hook()
