"""The development hosted page (the sandbox's) reads an expiry typed as digits only."""

from __future__ import annotations

import requests

from sandbox.hosted import expiry_text

FORM = {"email": "ada@example.com", "card_number": "4242424242424242", "cvc": "123", "method": "card"}


def test_expiry_typed_as_four_digits_is_month_and_year():
    assert expiry_text("1234") == "12/34"
    assert expiry_text("12 / 34") == "12 / 34"
    assert expiry_text("123") == "123"


def test_a_card_with_expiry_1234_pays(shop, create_payment, sandbox_ctl, live_server):
    payment = create_payment(shop)
    hosted = requests.get(payment["checkout_url"], timeout=10).url
    paid = requests.post(hosted, data={**FORM, "exp": "1234"}, allow_redirects=False, timeout=10)
    assert paid.status_code == 303 and paid.headers["Location"].startswith(f"{live_server}/checkout/success")
