from __future__ import annotations

from django.urls import path

from wallets import account_pages, password_pages, refund_pages, views
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
    path("verify-mobile/", account_pages.verify_mobile, name="verify_mobile"),
    path("pin/", account_pages.pin_page, name="pin"),
    path("name/", account_pages.name_page, name="display_name"),
    path("password/", password_pages.password_change, name="password_change"),
    path("password/reset/", password_pages.password_reset, name="password_reset"),
    path("password/reset/confirm/", password_pages.password_reset_confirm, name="password_reset_confirm"),
]
