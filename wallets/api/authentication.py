"""``Authorization: Bearer <token>``: DRF's token authentication with the OAuth-style keyword."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from wallets import selectors
from wallets.models import User


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate_credentials(self, key: str) -> tuple[User, str]:
        user = selectors.user_for_token(key=key)
        if user is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        return user, key


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
