"""django-axes' lockout response (``AXES_LOCKOUT_CALLABLE``): JSON for the API, the sign-in page otherwise."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from wallets.api.errors import error_response
from wallets.forms import RegistrationForm


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The name a lockout counts against: as typed, in lower case (sign-in ignores case)."""
    return str((credentials or {}).get("username") or "").strip().lower()


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = f"Too many failed sign-in attempts. Try again in {minutes} minutes."
    headers = {"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))}
    if request.path.startswith("/api/"):
        return error_response(429, "rate_limited", message, headers=headers)
    messages.error(request, message)
    response = render(
        request,
        "home.html",
        {
            "login_form": AuthenticationForm(request, prefix="login"),
            "register_form": RegistrationForm(prefix="register"),
        },
        status=429,
    )
    response["Retry-After"] = headers["Retry-After"]
    return response
