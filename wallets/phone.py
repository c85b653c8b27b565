"""Mobile numbers: normalised to E.164 with ``phonenumbers``."""

from __future__ import annotations

import phonenumbers
from django.conf import settings

from wallets.errors import InvalidMobile


def mobile_normalize(raw: str, *, region: str | None = None) -> str:
    """``"98765 43210"`` -> ``"+919876543210"`` (default region from ``PAYLANE_PHONE_REGION``)."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidMobile("Enter a mobile number, such as 98765 43210 or +91 98765 43210.")
    try:
        number = phonenumbers.parse(text, region or settings.PAYLANE_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidMobile("That does not look like a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidMobile("That is not a valid mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
