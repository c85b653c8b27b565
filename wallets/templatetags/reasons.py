from __future__ import annotations

from django import template

register = template.Library()


def reason_text(code: str | None) -> str:
    """A failure's stable code as a person reads it: ``"daily_limit_exceeded"`` -> ``"daily limit exceeded"``.

    The websocket client (static/js/wallet-live.js) spaces the code the same way.
    """
    return " ".join((code or "").split("_")).strip() or "refused"


@register.filter(name="reason")
def reason(code: str | None) -> str:
    """``{{ tx.failure_reason|reason }}``: see ``reason_text``."""
    return reason_text(code)
