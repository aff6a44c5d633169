"""Currency rules: decimals, Stripe minimum charges, display formatting."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.payments.currencies import (
    SUPPORTED,
    THREE_DECIMAL,
    ZERO_DECIMAL,
    amount_step,
    exponent,
    format_amount,
    minimum_charge,
)


def test_special_decimal_currencies_are_supported_codes():
    assert ZERO_DECIMAL <= SUPPORTED
    assert THREE_DECIMAL <= SUPPORTED
    assert not ZERO_DECIMAL & THREE_DECIMAL
    assert all(code == code.lower() and len(code) == 3 for code in SUPPORTED)


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("usd", 2),
        ("EUR", 2),
        ("jpy", 0),
        ("krw", 0),
        ("JPY", 0),
        ("kwd", 3),
        ("bhd", 3),
    ],
)
def test_exponent(currency, expected):
    assert exponent(currency) == expected


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("usd", 50),
        ("gbp", 30),
        ("jpy", 50),
        ("huf", 17500),
        ("czk", 1500),
        ("thb", 1000),
    ],
)
def test_minimum_charge_from_stripe_table(currency, expected):
    assert minimum_charge(currency) == expected


def test_minimum_charge_outside_stripe_table_is_one_step():
    assert minimum_charge("idr") == 1
    assert minimum_charge("clp") == 1
    assert minimum_charge("kwd") == 10


def test_amount_step():
    assert amount_step("kwd") == 10
    assert amount_step("usd") == 1
    assert amount_step("jpy") == 1


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1500, "usd", "$15.00"),
        (5, "usd", "$0.05"),
        (123456789, "usd", "$1,234,567.89"),
        (1500, "jpy", "¥1,500"),
        (50, "JPY", "¥50"),
        (250, "eur", "€2.50"),
        (30, "gbp", "£0.30"),
        (1234, "kwd", "1.234 KWD"),
        (1234, "xyz", "12.34 XYZ"),
        (1234, "sek", "12.34 SEK"),
        (0, "usd", "$0.00"),
        (-250, "eur", "-€2.50"),
    ],
)
def test_format_amount(amount, currency, expected):
    assert format_amount(amount, currency) == expected


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(sorted(SUPPORTED)),
)
def test_format_amount_keeps_every_digit(amount, currency):
    digits = "".join(ch for ch in format_amount(amount, currency) if ch.isdigit())
    assert int(digits) == amount
