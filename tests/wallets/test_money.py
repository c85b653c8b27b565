from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.money import money_format, money_str
from wallets.errors import InvalidAmount
from wallets.money import amount_parse


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", Decimal("1.00")),
        ("0.01", Decimal("0.01")),
        ("250.5", Decimal("250.50")),
        (" 99.99 ", Decimal("99.99")),
        ("999999999999.99", Decimal("999999999999.99")),
        (42, Decimal("42.00")),
        (Decimal("12.34"), Decimal("12.34")),
    ],
)
def test_amount_parse_accepts_plain_positive_amounts_with_two_places(raw: object, expected: Decimal) -> None:
    parsed = amount_parse(raw)
    assert parsed == expected
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        ("0", "greater than zero"),
        ("0.00", "greater than zero"),
        ("-5", "greater than zero"),
        ("1.001", "at most 2 decimal places"),
        (Decimal("1.500"), "at most 2 decimal places"),
        ("1000000000000", "too large"),
        ("NaN", "digits"),
        ("nan", "digits"),
        ("Infinity", "digits"),
        ("-Infinity", "greater than zero"),
        ("1e3", "digits"),
        (Decimal("1E+2"), "digits"),
        ("1,000", "digits"),
        ("", "Enter an amount"),
        ("   ", "Enter an amount"),
        ("+5", "digits"),
        ("0x10", "digits"),
        ("١٢", "digits"),  # Arabic-Indic digits: str.isdigit says yes, the regex says no
        (1.5, "floating-point"),
        (True, "floating-point"),
        (None, "Enter an amount"),
        ([], "Enter an amount"),
    ],
)
def test_amount_parse_refuses_with_a_clear_message(raw: object, message_part: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        amount_parse(raw)
    assert message_part in refused.value.message
    assert refused.value.code == "invalid_amount"


def test_amounts_are_shown_with_the_currency_and_sent_as_two_decimal_strings() -> None:
    assert money_format(Decimal("1234.5"), "INR") == "INR 1,234.50"
    assert money_str(Decimal("7")) == "7.00"


@pytest.mark.django_db
def test_money_sums_are_exact_on_every_backend(register) -> None:  # type: ignore[no-untyped-def]
    from ledger.models import Transaction
    from ledger.money import MoneySum
    from wallets import services

    user = register("sums")
    for amount in ["0.10", "0.20", "4999.99", "7.74", "0.01"] * 3:
        services.wallet_top_up(user=user, amount=amount)
    total = Transaction.objects.aggregate(total=MoneySum("amount"))["total"]
    assert total == Decimal("15024.12")
    assert str(total) == "15024.12"
