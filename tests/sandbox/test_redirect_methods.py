"""Redirect payment methods (Alipay, iDEAL): the shopper authorizes or fails the payment on the
wallet's or bank's page, then comes back; currencies are checked as Stripe checks them."""

import pytest
import stripe
from stripe_models import problems


def _eur_params(session_params, types):
    params = session_params(payment_method_types=types)
    for item in params["line_items"]:
        item["price_data"]["currency"] = "eur"
    return params


@pytest.fixture
def alipay_session(client, session_params):
    return client.v1.checkout.sessions.create(params=session_params(payment_method_types=["card", "alipay"]))


def _event_types(client):
    return [event.type for event in reversed(client.v1.events.list().data)]


@pytest.mark.parametrize(
    "types, currency",
    [(["alipay"], "chf"), (["ideal"], "usd"), (["card", "sepa_debit"], "usd"), (["us_bank_account"], "eur")],
)
def test_a_method_that_does_not_take_the_currency_is_refused(client, session_params, types, currency):
    params = session_params(payment_method_types=types)
    for item in params["line_items"]:
        item["price_data"]["currency"] = currency
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    assert caught.value.param == "payment_method_types"
    assert "does not support the currency" in caught.value.user_message


def test_alipay_authorized_pays_the_session(sandbox, client, alipay_session):
    result = sandbox.pay(alipay_session.id, payment_method="alipay", name="Ada")
    assert result["error"] is None
    assert (result["session"]["status"], result["session"]["payment_status"]) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(
        result["session"]["payment_intent"], params={"expand": ["latest_charge"]}
    )
    assert intent.status == "succeeded"
    assert intent.next_action is None
    assert intent.latest_charge.payment_method_details.type == "alipay"
    assert intent.latest_charge.payment_method_details.alipay.fingerprint
    assert _event_types(client) == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
        "charge.updated",
    ]


def test_alipay_failed_leaves_the_session_open_for_another_try(sandbox, client, alipay_session):
    result = sandbox.pay(alipay_session.id, payment_method="alipay", outcome="fail")
    assert result["error"]["code"] == "payment_intent_authentication_failure"
    assert result["session"]["status"] == "open"
    intent = client.v1.payment_intents.retrieve(result["session"]["payment_intent"])
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"
    assert _event_types(client)[-2:] == ["charge.failed", "payment_intent.payment_failed"]

    retried = sandbox.pay(alipay_session.id, card_number="4242424242424242")
    assert retried["error"] is None and retried["session"]["payment_status"] == "paid"


def test_ideal_through_the_hosted_page_and_the_bank_page(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=_eur_params(session_params, ["ideal"]))
    page = sandbox.http.get(f"{sandbox.url}/pay/{session.id}")
    assert "Pay with iDEAL" in page.text and "Card number" not in page.text

    chosen = sandbox.http.post(
        f"{sandbox.url}/pay/{session.id}",
        data={"email": "ada@example.com", "method": "ideal"},
        allow_redirects=False,
    )
    assert chosen.status_code == 303
    bank_page = chosen.headers["Location"]
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    assert intent.status == "requires_action"
    assert intent.next_action.redirect_to_url.url == bank_page
    assert problems(sandbox.http.get(f"{sandbox.url}/v1/payment_intents/{intent.id}", headers=_auth()).json(),
                    stripe.PaymentIntent) == []  # fmt: skip
    assert "Authorize test payment" in sandbox.http.get(bank_page).text

    failed = sandbox.http.post(bank_page, data={"action": "fail"}, allow_redirects=False)
    assert failed.status_code == 303
    assert failed.headers["Location"].endswith(f"/pay/{session.id}?redirect_status=failed")
    assert "unable to authenticate" in sandbox.http.get(sandbox.url + failed.headers["Location"]).text
    assert sandbox.http.get(bank_page).status_code == 404  # that attempt is over

    again = sandbox.http.post(
        f"{sandbox.url}/pay/{session.id}",
        data={"email": "ada@example.com", "method": "ideal"},
        allow_redirects=False,
    )
    paid = sandbox.http.post(again.headers["Location"], data={"action": "authorize"}, allow_redirects=False)
    assert paid.headers["Location"] == f"https://shop.example/success?session_id={session.id}"
    charge = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]}).latest_charge
    assert charge.payment_method_details.type == "ideal"
    assert charge.payment_method_details.ideal.bank == "ing"
    assert problems(sandbox.http.get(f"{sandbox.url}/v1/charges/{charge.id}", headers=_auth()).json(),
                    stripe.Charge) == []  # fmt: skip


def test_a_stale_bank_page_cannot_pay_after_the_shopper_paid_by_card(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=_eur_params(session_params, ["card", "ideal"]))
    chosen = sandbox.http.post(
        f"{sandbox.url}/pay/{session.id}",
        data={"email": "ada@example.com", "method": "ideal"},
        allow_redirects=False,
    )
    assert sandbox.pay(session.id)["error"] is None
    late = sandbox.http.post(chosen.headers["Location"], data={"action": "authorize"}, allow_redirects=False)
    assert late.status_code == 404
    assert len([e for e in client.v1.events.list().data if e.type == "charge.succeeded"]) == 1


def test_a_session_pays_only_with_the_methods_it_offers(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params(payment_method_types=["alipay"]))
    result = sandbox.pay(session.id, card_number="4242424242424242")
    assert result["error"]["param"] == "payment_method_types"
    assert result["session"]["status"] == "open"
    ideal = sandbox.pay(session.id, payment_method="ideal")
    assert ideal["error"]["param"] == "payment_method_types"


def _auth():
    return {"Authorization": "Bearer sk_test_redirects"}
