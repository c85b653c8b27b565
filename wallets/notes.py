"""Notes: what a payer says a payment is for. At most 80 characters, no control characters.

A note is stored on the ledger entry (and so covered by its hash), shown in the
history, in websocket frames, in exports and in statements. The length counts
the characters as sent; what is stored is stripped of spaces around it, and a
note of spaces only is no note.
"""

from __future__ import annotations

import re

from wallets.errors import InvalidNote

NOTE_MAX_LENGTH = 80
# Refused anywhere in a note: control characters (C0, DEL, C1), lone surrogates, and the
# bidirectional overrides and isolates (invisible, they make a note read differently from what it is).
# The API schema states the same class (wallets/api/openapi.py: NOTE), without the surrogates,
# which no JSON schema regex engine takes (and no UTF-8 body can carry).
FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_ALLOWED = re.compile(rf"[^{FORBIDDEN}\ud800-\udfff]{{0,{NOTE_MAX_LENGTH}}}")


def note_clean(text: object) -> str:
    """A note as it is stored: stripped, "" for none; ``InvalidNote`` when too long, not text, or with a
    forbidden character."""
    if text is None:
        return ""
    if not isinstance(text, str) or not _ALLOWED.fullmatch(text):
        raise InvalidNote()
    return text.strip()
