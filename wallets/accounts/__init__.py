"""Identity: how people and staff prove who they are, and the record of it.

* ``admin_otp``: the admin's second factor (TOTP devices, ``manage.py admin_otp_add``).
* ``admin_site``: the admin site that asks for it (``PAYLANE_ADMIN_OTP``) and records every sign-in.
* ``signins``: the append-only record of admin sign-ins (``wallets.models.AdminSignIn``).
"""
