"""``/api/v1/``: the JSON API (docs/api.md). The last pattern catches every other path."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path, re_path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from wallets.api import accounts, money_requests, passwords, statements, views

# Swagger UI's template carries one inline <style>: allowed on the docs page alone.
DOCS_CSP: dict[str, Any] = {**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]}

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="api-register"),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("auth/mobile/code/", accounts.MobileCodeView.as_view(), name="api-mobile-code"),
    path("auth/mobile/verify/", accounts.MobileVerifyView.as_view(), name="api-mobile-verify"),
    path("auth/pin/", accounts.PinView.as_view(), name="api-pin"),
    path("auth/pin/code/", accounts.PinCodeView.as_view(), name="api-pin-code"),
    path("auth/name/", accounts.NameView.as_view(), name="api-name"),
    path("recipients/", accounts.RecipientView.as_view(), name="api-recipients"),
    path("auth/password/", passwords.PasswordChangeView.as_view(), name="api-password-change"),
    path("auth/password/reset/", passwords.PasswordResetView.as_view(), name="api-password-reset"),
    path(
        "auth/password/reset/confirm/",
        passwords.PasswordResetConfirmView.as_view(),
        name="api-password-reset-confirm",
    ),
    path("wallet/", views.WalletView.as_view(), name="api-wallet"),
    path("wallet/top-ups/", views.TopUpView.as_view(), name="api-top-ups"),
    path("transfers/", views.TransferView.as_view(), name="api-transfers"),
    path("transactions/", views.TransactionListView.as_view(), name="api-transactions"),
    path("transactions/<int:transaction_id>/", views.TransactionDetailView.as_view(), name="api-transaction"),
    path("transactions/<int:transaction_id>/refund/", views.RefundView.as_view(), name="api-transaction-refund"),
    path("statements/", statements.StatementView.as_view(), name="api-statements"),
    path("requests/", money_requests.RequestListView.as_view(), name="api-requests"),
    path("requests/mutes/", money_requests.MuteListView.as_view(), name="api-request-mutes"),
    path("requests/mutes/<int:user_id>/", money_requests.MuteDetailView.as_view(), name="api-request-mute"),
    path("requests/<int:request_id>/", money_requests.RequestDetailView.as_view(), name="api-request"),
    path("requests/<int:request_id>/pay/", money_requests.RequestPayView.as_view(), name="api-request-pay"),
    path("requests/<int:request_id>/decline/", money_requests.RequestDeclineView.as_view(), name="api-request-decline"),
    path("requests/<int:request_id>/cancel/", money_requests.RequestCancelView.as_view(), name="api-request-cancel"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its set-up script as a file, so scripts stay 'self' only.
    path(
        "docs/",
        csp_override(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    re_path(r"^(?P<path>.*)$", views.fallback, name="api-fallback"),
]
