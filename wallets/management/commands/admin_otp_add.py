"""``python manage.py admin_otp_add USERNAME [--replace]``: enrol a staff member's authenticator app.

Prints the ``otpauth://`` URI to scan (or type) into an authenticator app:
on standard output only, once; it holds the device's secret, so it is never
logged. Refuses an unknown user, a non-staff user and (without ``--replace``)
one who already has a device, with a non-zero exit.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wallets.accounts.admin_otp import admin_otp_device_add
from wallets.errors import WalletError


class Command(BaseCommand):
    help = (
        "Create a TOTP device for a staff user and print its otpauth:// URI (the admin asks for its codes "
        "when PAYLANE_ADMIN_OTP is on). --replace drops the user's old devices first (a lost phone)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the staff user (any case)")
        parser.add_argument(
            "--replace", action="store_true", help="delete the user's existing devices and create a new one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            device = admin_otp_device_add(username=options["username"], replace=options["replace"])
        except WalletError as error:
            raise CommandError(f"{error.message} ({error.code})") from None
        self.stdout.write(device.config_url)
        self.stderr.write(
            f"Scan or type the URI above into {device.user.get_username()}'s authenticator app now: "
            "it holds the secret and is not shown again. The admin then asks for its six-digit codes."
        )
