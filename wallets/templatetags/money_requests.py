"""Template tags for money requests: what the dashboard's pending-requests partial needs, without the
dashboard view knowing about requests (templates/partials/pending_requests.html)."""

from __future__ import annotations

from django import template

from wallets.formtokens import form_token_new
from wallets.request_models import MoneyRequest
from wallets.request_selectors import pending_incoming

register = template.Library()


@register.simple_tag
def pending_requests_for(user_id: int) -> list[MoneyRequest]:
    """``{% pending_requests_for user.pk as pending %}``: what the user is asked to pay and still can."""
    return pending_incoming(user_id=user_id)


@register.simple_tag
def one_time_form_token() -> str:
    """A fresh one-time form token (``wallets.formtokens``) for a Pay form rendered by hand."""
    return form_token_new()
