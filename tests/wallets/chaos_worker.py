"""A transfer loop for the chaos test, run as its own process.

Usage: python -m tests.wallets.chaos_worker SEED USER_ID [USER_ID ...]
Prints ``OK <ledger id>`` after each committed transfer and ``REFUSED <code>``
for a business refusal; dies however the test chooses to kill it.
"""

from __future__ import annotations

import os
import random
import sys

import django
from django.db import InterfaceError, OperationalError, connection


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    # Standard output carries this worker's report: the security alerts of its transfers go to
    # memory, not to the console backend's lines on the same output.
    os.environ["PAYLANE_SMS_BACKEND"] = "locmem"
    django.setup()
    from wallets import services
    from wallets.errors import WalletError
    from wallets.models import User

    seed, *user_ids = (int(a) for a in sys.argv[1:])
    rng = random.Random(seed)
    while True:
        sender, receiver = rng.sample(user_ids, 2)
        amount = f"{rng.randint(1, 5000) / 100:.2f}"
        try:
            entry = services.transfer_create(sender=User(pk=sender), to_user_id=receiver, amount=amount)
        except WalletError as refused:
            print(f"REFUSED {refused.code}", flush=True)
        except (OperationalError, InterfaceError):
            # The backend was terminated under us: the transaction rolled back.
            print("DROPPED", flush=True)
            connection.close()
        else:
            print(f"OK {entry.pk}", flush=True)


if __name__ == "__main__":
    main()
