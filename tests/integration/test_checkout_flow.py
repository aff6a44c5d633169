"""The main job end to end: merchant creates, shopper pays on the sandbox's hosted page, comes
back through our success page, the webhook arrives, and the payment is fulfilled exactly once."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import ProcessedStripeEvent
from tests.helpers import payment_body, wait_for
from tests.support.factories import timeline_types


def get_payment(client, merchant, payment_id):
    return client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers).get_json()


def create(client, merchant, **overrides):
    response = client.post("/api/v1/payments", json=payment_body(**overrides), headers=merchant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def types_of(app, payment_id):
    with app.app_context():
        return timeline_types(payment_id)


def webhook_processed(app, event_type):
    with app.app_context():
        return db.session.scalars(
            sa.select(ProcessedStripeEvent).where(ProcessedStripeEvent.type == event_type)
        ).first()


def test_redirect_then_webhook_fulfils_once(app, client, merchant, sandbox_ctl, live_server):
    payment = create(client, merchant)
    assert payment["status"] == "open"
    assert payment["amount_total"] == 3000
    assert payment["checkout_url"] == f"{live_server}/pay/{payment['id']}"

    hop = requests.get(payment["checkout_url"], allow_redirects=False, timeout=10)
    assert hop.status_code == 303
    assert hop.headers["Location"].startswith(sandbox_ctl.url + "/pay/cs_")

    paid = sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    assert paid["session"]["payment_status"] == "paid"

    session_id = payment["stripe_checkout_session_id"]
    page = requests.get(f"{live_server}/checkout/success", params={"session_id": session_id}, timeout=10)
    assert page.status_code == 200
    assert "Payment received" in page.text
    assert "A-1001" in page.text and "$30.00" in page.text and "Return to Acme Shop" in page.text
    link = re.search(r'href="(https://shop\.example/thanks[^"]*)"', page.text).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"payment_id": [payment["id"]], "order_id": ["A-1001"]}

    done = get_payment(client, merchant, payment["id"])
    assert done["status"] == "succeeded"
    assert done["paid_at"] and done["fulfilled_at"]

    wait_for(lambda: webhook_processed(app, "checkout.session.completed"))
    assert types_of(app, payment["id"]).count("payment.fulfilled") == 1
    assert get_payment(client, merchant, payment["id"])["fulfilled_at"] == done["fulfilled_at"]


def test_webhook_then_redirect_fulfils_once(app, client, merchant, sandbox_ctl, live_server):
    payment = create(client, merchant)
    sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    wait_for(lambda: get_payment(client, merchant, payment["id"])["status"] == "succeeded")

    page = requests.get(
        f"{live_server}/checkout/success",
        params={"session_id": payment["stripe_checkout_session_id"]},
        timeout=10,
    )
    assert page.status_code == 200 and "Payment received" in page.text
    types = types_of(app, payment["id"])
    assert types == ["payment.requested", "payment.open", "payment.succeeded", "payment.fulfilled"]


def test_success_page_ignores_unknown_and_foreign_sessions(client, live_server, sandbox_ctl):
    assert (
        requests.get(
            f"{live_server}/checkout/success", params={"session_id": "cs_test_nope"}, timeout=10
        ).status_code
        == 404
    )
    assert requests.get(f"{live_server}/checkout/success", timeout=10).status_code == 404


def test_declined_card_leaves_payment_open(client, merchant, sandbox_ctl):
    payment = create(client, merchant)
    result = sandbox_ctl.pay(payment["stripe_checkout_session_id"], card_number="4000000000000002")
    assert result["error"]["code"] == "card_declined"
    assert get_payment(client, merchant, payment["id"])["status"] == "open"


def test_expire_open_payment(app, client, merchant, sandbox_ctl, live_server):
    payment = create(client, merchant)
    response = client.post(f"/api/v1/payments/{payment['id']}/expire", headers=merchant.headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "expired"

    again = client.post(f"/api/v1/payments/{payment['id']}/expire", headers=merchant.headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "payment_not_expirable"

    page = requests.get(payment["checkout_url"], timeout=10)
    assert page.status_code == 410
    assert "expired" in page.text and 'href="https://shop.example/cart"' in page.text

    # The order is free again: a new payment for it may be created.
    assert create(client, merchant)["order_id"] == "A-1001"


def test_expire_paid_payment_is_409(client, merchant, sandbox_ctl):
    payment = create(client, merchant)
    sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    wait_for(lambda: get_payment(client, merchant, payment["id"])["status"] == "succeeded")
    response = client.post(f"/api/v1/payments/{payment['id']}/expire", headers=merchant.headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "payment_not_expirable"


def test_session_expiring_at_stripe_expires_payment(client, merchant, sandbox_ctl):
    payment = create(client, merchant, expires_in=1800)
    sandbox_ctl.advance(1801)
    wait_for(lambda: get_payment(client, merchant, payment["id"])["status"] == "expired")


def test_cancel_returns_to_merchant_and_payment_stays_open(client, merchant, sandbox_ctl, live_server):
    payment = create(client, merchant)
    response = requests.get(
        f"{live_server}/checkout/cancel",
        params={"payment_id": payment["id"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303
    # Like the way back from the receipt, the cancel URL says which payment and order.
    assert response.headers["Location"] == (
        f"https://shop.example/cart?payment_id={payment['id']}&order_id=A-1001"
    )
    assert get_payment(client, merchant, payment["id"])["status"] == "open"


def test_unknown_payment_page_is_404(live_server, sandbox_ctl):
    response = requests.get(f"{live_server}/pay/pay_unknown", timeout=10)
    assert response.status_code == 404
    assert "could not find" in response.text
