"""Who may use the wallet endpoints."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from wallets import selectors


class IsWalletHolder(IsAuthenticated):
    """Signed in, with a wallet: accounts made by ``createsuperuser`` have none and get 403, not a 500."""

    message = "This account has no wallet; sign up through the app or POST /api/v1/auth/register/."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and selectors.user_has_wallet(user_id=request.user.pk)  # type: ignore[arg-type]
