"""Issue 14, part 1: the merchant chooses the payment methods; the payment and the receipt show
the method the shopper paid with."""

from __future__ import annotations

import pytest

from app.payments.payment_methods import describe, details_from_charge
from tests.helpers import payment_body


def create(client, merchant, **overrides):
    return client.post("/api/v1/payments", json=payment_body(**overrides), headers=merchant.headers)


@pytest.mark.parametrize(
    ("currency", "types", "param", "says"),
    [
        ("usd", ["card", "ideal"], "payment_method_types[1]", "does not support the currency 'usd'"),
        ("eur", ["us_bank_account"], "payment_method_types[0]", "does not support the currency 'eur'"),
        ("usd", ["sepa_debit"], "payment_method_types[0]", "it takes eur"),
        ("chf", ["card", "alipay"], "payment_method_types[1]", "does not support the currency 'chf'"),
        ("usd", ["card", "bitcoin"], "payment_method_types[1]", "not a payment method type"),
        ("usd", ["card", "alipay", "card"], "payment_method_types[2]", "listed more than once"),
        ("usd", [], "payment_method_types", "at least 1 item"),
        ("usd", "card", "payment_method_types", "valid list"),
        ("usd", ["card", 7], "payment_method_types[1]", "valid string"),
    ],
)
def test_a_bad_method_or_method_currency_pair_is_a_400_naming_payment_method_types(
    client, merchant, sandbox_ctl, currency, types, param, says
):
    response = create(client, merchant, currency=currency, payment_method_types=types)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", param)
    assert says in error["message"]
    listed = client.get("/api/v1/payments", headers=merchant.headers).get_json()
    assert listed["data"] == []  # nothing was created


def test_the_chosen_methods_reach_the_checkout_session(client, merchant, shop):
    response = create(client, merchant, currency="eur", payment_method_types=["card", "ideal", "sepa_debit"])

    assert response.status_code == 201, response.get_json()
    payment = response.get_json()
    assert payment["payment_method_types"] == ["card", "ideal", "sepa_debit"]
    session = shop.stripe.v1.checkout.sessions.retrieve(payment["stripe_checkout_session_id"])
    assert session.payment_method_types == ["card", "ideal", "sepa_debit"]


def test_without_a_choice_stripes_dynamic_payment_methods_apply(client, merchant, shop):
    payment = create(client, merchant, currency="usd").get_json()

    assert payment["payment_method_types"] is None
    session = shop.stripe.v1.checkout.sessions.retrieve(payment["stripe_checkout_session_id"])
    # Nothing was sent: the sandbox's stand-in for the Dashboard's settings decides (usd: card and
    # US bank account, where a merchant's request for ["card"] would have given ["card"] only).
    assert session.payment_method_types == ["card", "us_bank_account"]


def test_a_card_payment_shows_brand_and_last4_via_the_api_and_on_the_receipt(client, shop):
    payment = shop.create(payment_method_types=["card"])
    assert payment["payment_method_details"] is None  # not paid yet

    assert shop.pay(payment, "5555 5555 5555 4444")["error"] is None
    paid = shop.wait_status(payment["id"], "succeeded")

    assert paid["payment_method_details"] == {
        "type": "card",
        "card": {"brand": "mastercard", "last4": "4444"},
    }
    receipt = client.get(f"/pay/{payment['id']}")
    assert receipt.status_code == 200
    assert "Mastercard •••• 4444" in receipt.get_data(as_text=True)
    shop.flush()
    succeeded = client.get("/api/v1/events?type=payment.succeeded", headers=shop.merchant.headers).get_json()
    assert succeeded["data"][0]["data"]["payment_method_details"]["card"]["last4"] == "4444"


def test_the_success_page_stores_the_method_when_it_wins_the_race(client, shop):
    payment = shop.create()
    shop.sandbox.webhooks(False)  # only the shopper's redirect tells us
    assert shop.pay(payment)["error"] is None

    page = client.get(f"/checkout/success?session_id={payment['stripe_checkout_session_id']}")

    assert "Visa •••• 4242" in page.get_data(as_text=True)
    assert shop.get(payment["id"])["payment_method_details"] == {
        "type": "card",
        "card": {"brand": "visa", "last4": "4242"},
    }


def test_an_alipay_payment_shows_alipay(client, shop):
    payment = shop.create(payment_method_types=["alipay"])

    assert shop.sandbox.pay(payment["stripe_checkout_session_id"], payment_method="alipay")["error"] is None
    paid = shop.wait_status(payment["id"], "succeeded")

    assert paid["payment_method_details"] == {"type": "alipay", "alipay": {}}
    assert 'Paid with <strong class="payment-method">Alipay</strong>' in client.get(
        f"/pay/{payment['id']}"
    ).get_data(as_text=True)


def test_a_bank_debit_shows_its_method_once_settled(shop):
    payment = shop.create()
    assert shop.pay_by_bank(payment)["error"] is None
    assert shop.wait_status(payment["id"], "processing")["payment_method_details"] is None

    shop.sandbox.advance(3600)

    settled = shop.wait_status(payment["id"], "succeeded")
    assert settled["payment_method_details"] == {
        "type": "us_bank_account",
        "us_bank_account": {"bank_name": "STRIPE TEST BANK", "last4": "6789"},
    }


@pytest.mark.parametrize(
    ("charge", "details", "label"),
    [
        (
            {
                "payment_method_details": {
                    "type": "card",
                    "card": {"brand": "amex", "last4": "0005", "fingerprint": "x"},
                }
            },
            {"type": "card", "card": {"brand": "amex", "last4": "0005"}},
            "American Express •••• 0005",
        ),
        (
            {
                "payment_method_details": {
                    "type": "ideal",
                    "ideal": {"bank": "ing", "iban_last4": "5264", "bic": "B"},
                }
            },
            {"type": "ideal", "ideal": {"bank": "ing", "iban_last4": "5264"}},
            "iDEAL •••• 5264",
        ),
        (
            {
                "payment_method_details": {
                    "type": "alipay",
                    "alipay": {"buyer_id": "2088", "fingerprint": "f"},
                }
            },
            {"type": "alipay", "alipay": {}},
            "Alipay",
        ),
        ({"payment_method_details": {"type": "klarna"}}, {"type": "klarna", "klarna": {}}, "Klarna"),
        (
            {"payment_method_details": {"type": "card", "card": {"brand": {"odd": 1}, "last4": "4242"}}},
            {"type": "card", "card": {"last4": "4242"}},
            "Card •••• 4242",
        ),
        ("ch_unexpanded", None, None),
        ({"payment_method_details": None}, None, None),
    ],
)
def test_details_keep_only_what_names_the_method(charge, details, label):
    assert details_from_charge(charge) == details
    assert describe(details) == label
