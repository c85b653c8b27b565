from __future__ import annotations

from django.urls import path

from wallets import account_pages, password_pages, refund_pages, request_pages, views
from wallets.statements.pages import statements_page

urlpatterns = [
    path("", views.home, name="home"),
    path("logout/", views.logout_view, name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("add-money/", views.AddMoneyView.as_view(), name="add_money"),
    path("transfer/", views.TransferView.as_view(), name="transfer"),
    path("pay-mobile/", views.PayMobileView.as_view(), name="pay_mobile"),
    path("transactions/", views.transactions, name="transactions"),
    path("transactions/<int:transaction_id>/refund/", refund_pages.RefundView.as_view(), name="refund"),
    path("statements/", statements_page, name="statements"),
    path("requests/", request_pages.requests_page, name="requests"),
    path("requests/<int:request_id>/pay/", request_pages.request_pay, name="request_pay"),
    path("requests/<int:request_id>/decline/", request_pages.request_decline, name="request_decline"),
    path("requests/<int:request_id>/cancel/", request_pages.request_cancel, name="request_cancel"),
    path("verify-mobile/", account_pages.verify_mobile, name="verify_mobile"),
    path("pin/", account_pages.pin_page, name="pin"),
    path("name/", account_pages.name_page, name="display_name"),
    path("password/", password_pages.password_change, name="password_change"),
    path("password/reset/", password_pages.password_reset, name="password_reset"),
    path("password/reset/confirm/", password_pages.password_reset_confirm, name="password_reset_confirm"),
]
