"""One-time tokens for the money forms: a double click, a resubmitted form or a browser retry pays once.

Each money form is rendered with a fresh token (a random id, signed with a
timestamp so that it cannot be forged or kept for ever). A POST hands the
token's id to ``wallets.idempotency`` as its key, the way the API hands over
``Idempotency-Key``: the outcome is stored with the ledger row in the same
transaction, and the same submission posted again moves nothing and is
answered with the first outcome. A token is good for as long as its record is
kept (``PAYLANE_IDEMPOTENCY_KEEP_HOURS``), so it can never outlive it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing

from wallets.errors import WalletError

_SIGNER = signing.TimestampSigner(salt="paylane.form-token")
# Kept apart from the API's keys for the same user (they share the idempotency table).
KEY_PREFIX = "form:"


class FormTokenInvalid(WalletError):
    code = "form_expired"
    default_message = "This form has expired or was not sent from this site. Please check it and submit it again."


def form_token_new() -> str:
    return _SIGNER.sign(secrets.token_hex(16))


def form_token_key(token: str | None) -> str:
    """The idempotency key of a token this site issued within the keep window; ``FormTokenInvalid`` otherwise."""
    if not token or len(token) > 200:
        raise FormTokenInvalid()
    hours = max(24, settings.PAYLANE_IDEMPOTENCY_KEEP_HOURS)
    try:
        return KEY_PREFIX + _SIGNER.unsign(token, max_age=hours * 3600)
    except signing.BadSignature:  # SignatureExpired is one
        raise FormTokenInvalid() from None
