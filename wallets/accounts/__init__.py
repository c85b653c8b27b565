"""Identity: how people and staff prove who they are, the credentials they hold, and the record of it.

* ``registration``: signing up (a user, a profile with an unverified number, an empty wallet).
* ``sms``: messages to phones, through ``PAYLANE_SMS_BACKEND``.
* ``codes``: one-time codes by SMS (hashed, ten minutes, one use, five tries).
* ``verification``: proving a mobile number; the first to verify a number keeps it.
* ``passwords``: changing a password, resetting a forgotten one with a code (and the
  decoys that keep a reset from telling which numbers have accounts).
* ``alerts``: security alerts by SMS after the commit of what they report (money sent
  and received, password, API token, PIN), off the request's thread; ``names``: the
  masked names they show.
* ``tokens``: API tokens (django-rest-knox rows, hashed at rest): issue, revoke,
  and the lookup every Bearer request and websocket handshake runs.
* ``credentials``: what names a credential (an API token or a page session),
  the check a long-lived socket repeats, and the revocations that close
  every socket a credential opened (sign-out, password change, deactivation).
* ``admin_otp``: the admin's second factor (TOTP devices, ``manage.py admin_otp_add``).
* ``admin_site``: the admin site that asks for it (``PAYLANE_ADMIN_OTP``) and records every sign-in.
* ``signins``: the append-only record of admin sign-ins (``wallets.models.AdminSignIn``).
"""
