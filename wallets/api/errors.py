"""One error envelope for the whole API: ``{"error": {"code", "message", "fields"}}``.

DRF's exception handler is replaced by ``exception_handler``; views outside DRF
(the catch-all for unknown paths, the lockout response) use ``error_response``.
A refusal the ledger recorded as FAILED also carries ``error.transaction_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from wallets.api.parsers import PayloadTooLarge
from wallets.busy import is_timeout
from wallets.database_unavailable import is_connection_lost
from wallets.errors import Busy, DatabaseUnavailable, PinLocked, RateLimited, WalletError

logger = logging.getLogger(__name__)

# DRF codes that the API spells differently.
_CODE_FOR_DRF: dict[str, str] = {
    "parse_error": "validation_error",
    "authentication_failed": "not_authenticated",
    "throttled": "rate_limited",
    "invalid": "validation_error",
}

# Validation codes a serializer field may raise that keep their own name at the top level.
_DOMAIN_VALIDATION_CODES = frozenset({"invalid_amount", "self_transfer"})


def error_body(
    code: str, message: str, fields: Mapping[str, list[str]] | None = None, *, transaction_id: int | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "fields": dict(fields or {})}
    if transaction_id is not None:
        error["transaction_id"] = transaction_id
    return {"error": error}


def error_response(
    status_code: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JsonResponse:
    """The envelope as a plain Django response, for code that runs outside DRF."""
    return JsonResponse(error_body(code, message), status=status_code, headers=dict(headers or {}))


def wallet_error_body(error: WalletError, *, aliases: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Status and body of a service refusal; ``aliases`` renames service fields to request fields."""
    fields: dict[str, list[str]] = {}
    if error.field:
        fields[(aliases or {}).get(error.field, error.field)] = [error.message]
    transaction_id = error.transaction.pk if error.transaction is not None else None
    body = error_body(error.code, error.message, fields, transaction_id=transaction_id)
    return error.http_status, body


def _flatten(detail: Any, prefix: str = "") -> tuple[dict[str, list[str]], list[str], set[str]]:
    """DRF's nested detail as ``{field: [messages]}``, non-field messages and the codes seen."""
    fields: dict[str, list[str]] = {}
    general: list[str] = []
    codes: set[str] = set()
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            sub_fields, sub_general, sub_codes = _flatten(value, name)
            codes |= sub_codes
            for k, v in sub_fields.items():
                fields.setdefault(k, []).extend(v)
            if sub_general:
                if name == "non_field_errors":
                    general.extend(sub_general)
                else:
                    fields.setdefault(name, []).extend(sub_general)
    elif isinstance(detail, list):
        for item in detail:
            sub_fields, sub_general, sub_codes = _flatten(item, prefix)
            codes |= sub_codes
            general.extend(sub_general)
            for k, v in sub_fields.items():
                fields.setdefault(k, []).extend(v)
    else:
        general.append(str(detail))
        codes.add(getattr(detail, "code", None) or "invalid")
    return fields, general, codes


def _validation_body(exc: exceptions.ValidationError) -> dict[str, Any]:
    fields, general, codes = _flatten(exc.detail)
    code = codes.pop() if len(codes) == 1 and next(iter(codes)) in _DOMAIN_VALIDATION_CODES else "validation_error"
    if general:
        message = " ".join(general)
    elif fields:
        name, messages = next(iter(fields.items()))
        message = f"{name}: {messages[0]}"
    else:
        message = "The input is not valid."
    return error_body(code, message, fields)


SERVER_ERROR_MESSAGE = "Something went wrong on our side; nothing more was changed by this request."


def server_error_response() -> JsonResponse:
    """The envelope of an unexpected error: 500 ``server_error``, never Django's HTML page."""
    return error_response(500, "server_error", SERVER_ERROR_MESSAGE)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's hook: every API error, in the envelope; an unexpected one is logged and answers 500 ``server_error``."""
    view = context.get("view")
    if is_timeout(exc):
        exc = Busy()
    elif is_connection_lost(exc):
        logger.warning("database connection lost in %s: %r", type(view).__name__, exc)
        exc = DatabaseUnavailable()
    if isinstance(exc, WalletError):
        status_code, body = wallet_error_body(exc, aliases=getattr(view, "error_field_aliases", None))
        set_rollback()
        retry = (
            {"Retry-After": _seconds(exc.retry_after)}
            if isinstance(exc, RateLimited | PinLocked | DatabaseUnavailable)
            else None
        )
        return Response(body, status=status_code, headers=retry)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ValidationError("The request could not be read.")
    if not isinstance(exc, exceptions.APIException):
        logger.error("unhandled error in %s", type(view).__name__, exc_info=exc)
        set_rollback()
        return Response(error_body("server_error", SERVER_ERROR_MESSAGE), status=500)

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = _seconds(exc.wait)  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc)
    else:
        code = exc.default_code if isinstance(exc.default_code, str) else "error"
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            code = "not_authenticated" if exc.status_code == 401 else "permission_denied"
        code = _CODE_FOR_DRF.get(code, code)
        detail = exc.detail if not isinstance(exc.detail, list | dict) else exc.default_detail
        message = str(detail)
        if isinstance(exc, exceptions.ParseError):
            message = f"The body is not valid JSON: {detail}"
        body = error_body(code, message)
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _seconds(wait: float) -> str:
    """A Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, int(wait + 0.999)))
