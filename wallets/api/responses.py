"""The API's documented answers: what each status means, the headers, and the helpers that say them.

Every operation of the schema lists every status it answers (checked against the
live server by schemathesis, tests/wallets/api/test_schemathesis.py).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from wallets.api import openapi
from wallets.api import serializers as s

# What each status means, by default; an operation may say more about its own 400 and 422.
ERROR_TEXT = {
    400: "validation_error: malformed or invalid input; bad_request: a JSON body nested too deeply",
    401: "not_authenticated: no, an unknown or a revoked Bearer token, and no session",
    403: "permission_denied: a session request without its CSRF token, or an account without a wallet; "
    "mobile_not_verified: a wallet whose mobile number is not verified moves no money",
    404: "not_found",
    406: "not_acceptable: the Accept header excludes application/json",
    409: "idempotency_in_progress: a request with this Idempotency-Key is still running; retry shortly",
    413: "payload_too_large: the body is over 64 KiB",
    415: "unsupported_media_type: send application/json",
    422: "business refusal: insufficient_funds, daily_limit_exceeded, top_up_limit_exceeded, "
    "recipient_not_found or idempotency_key_reused",
    423: "pin_locked: too many wrong PINs in a row; payments are locked, even with the right PIN, "
    "for Retry-After seconds (or until the PIN is changed with a code)",
    429: "rate_limited: see Retry-After",
    503: "busy: the wallet is locked by other requests (database lock timeout); nothing moved, retry. "
    "database_unavailable: the database connection was lost while handling the request, so its outcome is "
    "unknown; retry after Retry-After seconds with the same Idempotency-Key (the stored answer if it went "
    "through, one run if not)",
}
# Statuses every operation may answer: an Authorization header is checked wherever it is sent, and
# any operation may lose its database connection (503 database_unavailable).
ANY = (400, 401, 403, 406, 503)
# ... and every operation that reads a JSON body.
BODY = (*ANY, 413, 415)
MONEY = (*BODY, 409, 422, 429, 503)


def errors(*codes: int, **text: str) -> dict[int, OpenApiResponse]:
    """Error responses for ``codes``; ``text`` overrides a description, keyed ``s400`` and so on."""
    return {
        code: OpenApiResponse(s.ErrorResponse, description=text.get(f"s{code}", ERROR_TEXT[code]))
        for code in sorted(codes)
    }


# Response headers.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.HEADER,
    required=True,
    description="Seconds to wait before trying again.",
    response=[429],
)
# The same header on a PIN lockout, too.
RETRY_AFTER_LOCKED = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.HEADER,
    required=True,
    description="Seconds to wait before trying again.",
    response=[423, 429],
)
RETRY_AFTER_PIN = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.HEADER,
    required=True,
    description="Seconds until payments unlock.",
    response=[423],
)
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, response=[401]
)
REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    description="Present on a replay of a stored outcome: this call moved no money.",
    response=[201, 422],
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    openapi.IDEMPOTENCY_KEY,
    OpenApiParameter.HEADER,
    description="1 to 255 printable ASCII characters, e.g. a UUID per intended payment. A retry with the "
    "same key and body replays the first outcome (header Idempotent-Replayed: true) and moves no money.",
)
MONEY_400 = (
    "validation_error (malformed input, a bad Idempotency-Key), invalid_amount, bad_request "
    "(a JSON body nested too deeply)"
)
