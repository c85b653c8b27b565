"""Logs: one JSON object per line (``PAYLANE_LOG_FORMAT=json``) or readable lines (``console``).

structlog renders every record, ours and the stdlib's (Django, daphne,
django-axes, channels-redis, ...): our code logs through structlog, which
hands its events to the standard ``logging`` tree, and one handler on the root
renders both with the same processors. So every line carries ``time`` (UTC,
ISO 8601), ``level``, ``logger``, ``event`` and, inside a request, its
``request_id`` (bound by ``project.observability.middleware``).

Never rendered: exceptions' local variables (structlog's console renderer
would show them through rich, which is installed: a password in a frame
would be printed) and stdlib records' ``extra`` (Django attaches the request
object). ``django.db.backends`` stays at INFO whatever ``LOG_LEVEL`` says: its
DEBUG lines carry every query's parameters, an ``Idempotency-Key`` among them.
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from structlog.types import EventDict, Processor

FORMATS = ("json", "console")


def _shared() -> list[Processor]:
    """What every line gets, from structlog or from the stdlib."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]


# A JSON line starts with these keys, in this order (the rest follow as logged), for the people who read them.
FIRST_KEYS = ("time", "level", "logger", "event", "request_id")


def _first_keys_first(logger: Any, method: str, event: EventDict) -> EventDict:
    return {**{k: event[k] for k in FIRST_KEYS if k in event}, **event}


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The handler's formatter (``LOGGING["formatters"]``): renders every record as ``log_format`` says."""
    if log_format == "json":
        renderer: list[Processor] = [
            structlog.processors.format_exc_info,
            _first_keys_first,
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(),
                exception_formatter=structlog.dev.plain_traceback,
                timestamp_key="time",
            )
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """``LOGGING`` for settings.py: one handler (stderr) on the root, rendered by ``formatter``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"paylane": {"()": formatter, "log_format": log_format}},
        "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "paylane"},
            # Django's default: errors mailed to ADMINS when DEBUG is off and e-mail is configured.
            "mail_admins": {
                "level": "ERROR",
                "filters": ["require_debug_false"],
                "class": "django.utils.log.AdminEmailHandler",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's "django" logger prints to the console itself when DEBUG is on; here it
            # only propagates to the root's handler, so each of its lines is written once.
            "django": {"handlers": ["mail_admins"], "level": level, "propagate": True},
            # Its DEBUG lines are SQL with parameters (an Idempotency-Key, a session key).
            "django.db.backends": {"level": "INFO" if level.upper() == "DEBUG" else level},
            # A line as each task starts and ends, at INFO: two per transfer (its alerts) and a few a
            # minute (the periodic work). Failures stay (jobs.worker logs them, WARNING and ERROR).
            "django.tasks": {"level": "WARNING" if level.upper() in ("INFO", "DEBUG") else level},
            "django_tasks_db": {"level": "WARNING" if level.upper() in ("INFO", "DEBUG") else level},
        },
    }


def structlog_configure() -> None:
    """Our loggers (``structlog.get_logger``) hand their events to the stdlib tree, rendered by ``formatter``."""
    structlog.configure(
        processors=[
            # First: an event below its logger's level costs nothing more.
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
