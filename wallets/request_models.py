"""Money requests: one person asks another for an amount; the payer always decides.

A request is not money: it moves nothing until its payer pays it, with an
ordinary transfer (``wallets.money_requests.request_pay``) whose
ledger entry it then names in ``paid_entry``. The database holds the
invariants a second time, behind the services' errors: the amount is
positive, nobody asks themselves, and a request is PAID exactly when it
names the entry that paid it (a ledger entry pays at most one request).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from ledger.money import DECIMAL_PLACES, MAX_DIGITS


class MoneyRequestStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PAID = "PAID", "Paid"
    DECLINED = "DECLINED", "Declined"
    CANCELLED = "CANCELLED", "Cancelled"
    EXPIRED = "EXPIRED", "Expired"


class MoneyRequest(models.Model):
    """``requester`` asks ``payer`` for ``amount``. Written only by ``wallets.money_requests``.

    PENDING until the payer pays (PAID) or declines it (DECLINED), the requester
    cancels it (CANCELLED), or ``expires_at`` passes (EXPIRED: written lazily by
    the next write that meets it and by the periodic job ``expire_requests``;
    reads show a PENDING request past ``expires_at`` as EXPIRED already).
    Every status change happens under this row's lock, so a request leaves
    PENDING once.
    """

    Status = MoneyRequestStatus

    id = models.BigAutoField(primary_key=True)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    # What the requester wrote (wallets.notes: at most 80 characters, no control characters).
    note = models.CharField(max_length=80, blank=True, default="")
    status = models.CharField(max_length=16, choices=MoneyRequestStatus.choices, default=MoneyRequestStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # When it left PENDING (paid, declined, cancelled or found expired).
    closed_at = models.DateTimeField(null=True, blank=True)
    # The TRANSFER that paid it.
    paid_entry = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["payer", "-id"], name="wallets_req_payer_id"),
            models.Index(fields=["requester", "-id"], name="wallets_req_requester_id"),
            # The requester's count of the last day (PAYLANE_REQUEST_RATE).
            models.Index(fields=["requester", "created_at"], name="wallets_req_requester_created"),
            # The expiry job: pending requests by deadline.
            models.Index(
                fields=["expires_at"], name="wallets_req_pending_expires", condition=models.Q(status="PENDING")
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="wallets_req_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(requester=models.F("payer")), name="wallets_req_requester_not_payer"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=MoneyRequestStatus.values), name="wallets_req_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="PAID", paid_entry__isnull=False)
                | (~models.Q(status="PAID") & models.Q(paid_entry__isnull=True)),
                name="wallets_req_paid_has_entry",
            ),
            models.CheckConstraint(
                condition=models.Q(status="PENDING", closed_at__isnull=True)
                | (~models.Q(status="PENDING") & models.Q(closed_at__isnull=False)),
                name="wallets_req_closed_when_not_pending",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="wallets_req_expires_after_created"
            ),
        ]

    def __str__(self) -> str:
        return f"request {self.pk}: {self.requester_id} asks {self.payer_id} for {self.amount} ({self.status})"

    def effective_status(self, now: datetime | None = None) -> str:
        """The status as a reader should see it: a PENDING request past ``expires_at`` is EXPIRED."""
        moment = now if now is not None else timezone.now()
        if self.status == MoneyRequestStatus.PENDING and self.expires_at <= moment:
            return MoneyRequestStatus.EXPIRED
        return self.status


class RequestMute(models.Model):
    """``payer`` no longer wants requests from ``requester``: new ones are refused as if ``payer`` had no account."""

    id = models.BigAutoField(primary_key=True)
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payer", "requester"], name="wallets_reqmute_unique"),
            models.CheckConstraint(condition=~models.Q(payer=models.F("requester")), name="wallets_reqmute_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.payer_id} mutes requests from {self.requester_id}"
