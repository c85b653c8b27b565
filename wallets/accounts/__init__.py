"""Identity: the credentials a person signs in with, and their end.

* ``tokens``: API tokens (django-rest-knox rows, hashed at rest): issue, revoke,
  and the lookup every Bearer request and websocket handshake runs.
* ``credentials``: what names a credential (an API token or a page session),
  the check a long-lived socket repeats, and the revocations that close
  every socket a credential opened (sign-out, password change, deactivation).
"""
