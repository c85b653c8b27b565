"""``Authorization: Bearer <token>``: DRF's token header parsing, knox's hashed tokens (``wallets.accounts.tokens``).

``request.auth`` is the token as a ``Credential``, so ``DELETE /api/v1/auth/token/``
revokes exactly the token that authenticated it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from wallets.accounts import tokens
from wallets.accounts.credentials import Credential
from wallets.models import User


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate_credentials(self, key: str) -> tuple[User, Credential]:
        found = tokens.token_authenticate(key=key)
        if found is None:
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        return found


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = BearerTokenAuthentication
    name = "bearerAuth"
    priority = 1  # ahead of drf-spectacular's own TokenAuthentication scheme

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>` from POST /api/v1/auth/token/",
        }
