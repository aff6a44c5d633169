"""Paying sessions: test cards via the control endpoint and the hosted page."""

import re

import pytest


def test_successful_card_payment(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    result = sandbox.pay(session.id, card_number="4242 4242 4242 4242", email="ada@example.com")
    assert result["error"] is None
    assert (result["session"]["status"], result["session"]["payment_status"]) == ("complete", "paid")

    fetched = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent.latest_charge"]}
    )
    intent = fetched.payment_intent
    assert intent.id.startswith("pi_") and intent.status == "succeeded"
    assert intent.metadata.to_dict() == {"order": "42"}
    assert (intent.amount, intent.amount_received) == (3000, 3000)
    charge = intent.latest_charge
    assert (charge.paid, charge.amount_captured, charge.amount_refunded) == (True, 3000, 0)
    assert charge.payment_method_details.card.last4 == "4242"
    assert fetched.customer_details.email == "ada@example.com"

    same = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert same.latest_charge.id == charge.id
    assert client.v1.charges.retrieve(charge.id).payment_intent == intent.id

    types = [e.type for e in client.v1.events.list().data]
    # Stripe's order (newest first here): the charge settles before its PaymentIntent, the session
    # completes after both, and the balance transaction is attached last (charge.updated).
    assert types == [
        "charge.updated",
        "checkout.session.completed",
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.created",
    ]


@pytest.mark.parametrize(
    "number, decline_code, message",
    [
        ("4000 0000 0000 0002", "generic_decline", "Your card was declined."),
        ("4000000000009995", "insufficient_funds", "Your card has insufficient funds."),
    ],
)
def test_declines(sandbox, client, session_params, number, decline_code, message):
    session = client.v1.checkout.sessions.create(params=session_params())
    result = sandbox.pay(session.id, card_number=number)
    error = result["error"]
    assert (error["type"], error["code"]) == ("card_error", "card_declined")
    assert (error["decline_code"], error["message"]) == (decline_code, message)
    assert result["session"]["status"] == "open"

    intent = client.v1.payment_intents.retrieve(result["session"]["payment_intent"])
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.to_dict() == {
        "code": "card_declined",
        "decline_code": decline_code,
        "message": message,
        "type": "card_error",
    }
    failed = client.v1.events.list(params={"type": "payment_intent.payment_failed"}).data
    assert [e.data.object.id for e in failed] == [intent.id]

    # The shopper can try again with a good card on the same PaymentIntent.
    retry = sandbox.pay(session.id)
    assert retry["error"] is None and retry["session"]["payment_intent"] == intent.id


def test_incorrect_number_leaves_no_payment_intent(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    result = sandbox.pay(session.id, card_number="1234 5678 9012 3456")
    assert result["error"]["code"] == "incorrect_number"
    assert result["error"]["message"] == "Your card number is incorrect."
    assert result["session"]["payment_intent"] is None


def test_cannot_pay_twice(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(session.id)
    response = sandbox.http.post(f"{sandbox.url}/_sandbox/checkout/sessions/{session.id}/pay")
    assert response.status_code == 400


def test_hosted_page_success_redirect(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(
        params=session_params(metadata={"merchant_name": "Tea & Co"})
    )
    page = sandbox.http.get(session.url)
    assert page.status_code == 200
    html = page.text
    assert "Tea &amp; Co" in html and "$30.00" in html and "Tea towel" in html
    for label in ("Email", "Card number", "Expiration", "CVC", "Cardholder name"):
        assert re.search(rf'<label for="[^"]+">{label}</label>', html), label
    assert 'href="https://shop.example/cart"' in html

    form = {
        "email": "ada@example.com",
        "card_number": "4242424242424242",
        "exp": "12 / 34",
        "cvc": "123",
        "name": "Ada Lovelace",
        "method": "card",
    }
    response = sandbox.http.post(session.url, data=form, allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == (f"https://shop.example/success?session_id={session.id}")
    assert "already paid" in sandbox.http.get(session.url).text


def test_hosted_page_decline_shows_alert(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    form = {
        "email": "ada@example.com",
        "card_number": "4000000000009995",
        "exp": "12/34",
        "cvc": "123",
        "name": "Ada",
    }
    response = sandbox.http.post(session.url, data=form, allow_redirects=False)
    assert response.status_code == 200
    assert re.search(r'role="alert">Your card has insufficient funds\.<', response.text)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_hosted_page_expired(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(session.id)
    page = sandbox.http.get(f"{sandbox.url}/pay/{session.id}")
    assert page.status_code == 200
    assert "This checkout session has expired" in page.text
    assert "<form" not in page.text


@pytest.mark.parametrize(
    "currency, unit_amount, shown", [("jpy", 1500, "¥1,500"), ("kwd", 12345, "12.345 KWD")]
)
def test_currency_formatting(sandbox, client, session_params, currency, unit_amount, shown):
    params = session_params(
        line_items=[
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": unit_amount,
                    "product_data": {"name": "Thing"},
                },
                "quantity": 1,
            }
        ]
    )
    session = client.v1.checkout.sessions.create(params=params)
    assert session.payment_method_types == ["card"]
    assert shown in sandbox.http.get(session.url).text
