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
        if not super().has_permission(request, view):
            return False
        # A Bearer token's lookup read it already (User.has_wallet); a page session's did not.
        known = getattr(request.user, "has_wallet", None)
        return known if known is not None else selectors.user_has_wallet(user_id=request.user.pk)  # type: ignore[arg-type]
