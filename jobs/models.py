"""What the background jobs keep beside django-tasks-db's own table of tasks (``DBTaskResult``).

* ``WorkerBeat``: each worker process's heartbeat. A task is RUNNING on the
  worker whose id its row names last; when that worker's beat goes stale the
  worker is gone, and its task is put back in the queue (``jobs.worker``).
* ``Delivery``: a side effect that has been delivered, by its de-duplication
  key (``jobs.outbox.deliver_once``): a task that runs twice delivers once.
* ``PeriodicRun``: one row per periodic job and period. Its unique key is what
  makes two schedulers safe: only the one whose INSERT wins enqueues the run
  (``jobs.scheduler``). The worker writes its outcome there, which is where
  ``/metrics`` reads "the last verify_ledger result and time" (``jobs.selectors``).
"""

from __future__ import annotations

from django.db import models


class WorkerBeat(models.Model):
    # django-tasks-db's worker ids are at most 64 characters.
    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id} ({self.host} pid {self.pid})"


class Delivery(models.Model):
    # "<kind>:<ledger id>", e.g. "transfer-alert:1234" (jobs.outbox.delivery_key).
    key = models.CharField(max_length=200, primary_key=True)
    delivered_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return self.key


class PeriodicRun(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        FAILED = "failed", "failed: findings (logged at ERROR, mailed to ADMINS)"
        SKIPPED = "skipped", "skipped: a later run of the job was already due"

    id = models.BigAutoField(primary_key=True)
    job = models.CharField(max_length=64)
    # The start of the period this run is for (the schedule's clock, UTC-aligned).
    due_at = models.DateTimeField()
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    # What the job returned: counts, findings (JSON), for people and /metrics.
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "due_at"], name="jobs_periodicrun_one_per_period")]
        indexes = [models.Index(fields=["job", "-finished_at"], name="jobs_periodicrun_last")]

    def __str__(self) -> str:
        return f"{self.job} due {self.due_at:%Y-%m-%d %H:%M:%S}"
