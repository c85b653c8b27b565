from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def paylane(request: HttpRequest) -> dict[str, Any]:
    return {"CURRENCY": settings.PAYLANE_CURRENCY}
