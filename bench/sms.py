"""The benchmarks' SMS backend: every security alert is composed and queued as in production, then not sent.

Without it the default backend (``console``) would print two lines per transfer
from every worker; a real provider's call is its own latency, on a worker
thread, and not the service's cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from wallets.accounts.sms import BaseSmsBackend, SmsMessage


class Unsent(BaseSmsBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        return len(messages)
