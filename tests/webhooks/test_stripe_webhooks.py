"""``POST /webhooks/stripe``: signatures, dedupe, unknown types, and the redirect/webhook race."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import Payment, ProcessedStripeEvent, TimelineEntry
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import payment_body, stripe_signature, wait_for
from tests.support.factories import timeline_types


def stripe_events(sandbox_ctl, event_type):
    response = requests.get(
        f"{sandbox_ctl.url}/v1/events",
        params={"type": event_type, "limit": 100},
        headers={"Authorization": "Bearer sk_test_suite"},
        timeout=10,
    )
    return response.json()["data"]


@pytest.fixture
def paid_without_webhook(app, client, merchant, sandbox_ctl):
    """A payment paid at Stripe whose webhook was never delivered: (payment, raw event bytes)."""
    payment = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    sandbox_ctl.webhooks(False)
    try:
        sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    finally:
        sandbox_ctl.webhooks(True)
    event = next(
        e
        for e in stripe_events(sandbox_ctl, "checkout.session.completed")
        if e["data"]["object"]["id"] == payment["stripe_checkout_session_id"]
    )
    return payment, json.dumps(event).encode()


def deliver(client, payload, signature):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", data=payload, headers=headers)


def counts(app, payment_id, payload):
    """(how many times the payment was fulfilled, whether this event's id was recorded)."""
    event_id = json.loads(payload)["id"]
    with app.app_context():
        fulfilled = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.payment_id == payment_id, TimelineEntry.type == "payment.fulfilled")
        )
        return fulfilled, db.session.get(ProcessedStripeEvent, event_id) is not None


def status(client, merchant, payment_id):
    return client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers).get_json()["status"]


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "garbage",
        "t=1,v1=deadbeef",
        "stale",
        "wrong-secret",
    ],
)
def test_bad_missing_or_stale_signature_is_400_and_writes_nothing(
    app, client, merchant, paid_without_webhook, signature
):
    payment, payload = paid_without_webhook
    if signature == "stale":
        signature = stripe_signature(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)
    elif signature == "wrong-secret":
        signature = stripe_signature(payload, "whsec_someone_else")
    response = deliver(client, payload, signature)
    assert response.status_code == 400
    assert counts(app, payment["id"], payload) == (0, False)
    assert status(client, merchant, payment["id"]) == "open"


def test_tampered_body_is_400(app, client, merchant, paid_without_webhook):
    payment, payload = paid_without_webhook
    signature = stripe_signature(payload, WEBHOOK_SECRET)
    response = deliver(client, payload.replace(b'"paid"', b'"unpaid"'), signature)
    assert response.status_code == 400
    assert counts(app, payment["id"], payload) == (0, False)


def test_signed_event_fulfils_and_duplicate_delivery_has_one_effect(
    app, client, merchant, paid_without_webhook
):
    payment, payload = paid_without_webhook
    first = deliver(client, payload, stripe_signature(payload, WEBHOOK_SECRET))
    assert first.status_code == 200 and first.get_json()["outcome"] == "processed"
    assert status(client, merchant, payment["id"]) == "succeeded"
    second = deliver(client, payload, stripe_signature(payload, WEBHOOK_SECRET))
    assert second.status_code == 200 and second.get_json()["outcome"] == "duplicate"
    assert counts(app, payment["id"], payload) == (1, True)


def test_rotated_secrets_are_all_accepted(app, client, merchant, paid_without_webhook):
    payment, payload = paid_without_webhook
    app.config["STRIPE_WEBHOOK_SECRETS"] = ["whsec_new", WEBHOOK_SECRET]
    gateway = app.extensions["stripe_gateways"].live
    old = gateway._webhook_secrets
    gateway._webhook_secrets = ["whsec_new", WEBHOOK_SECRET]
    try:
        response = deliver(client, payload, stripe_signature(payload, WEBHOOK_SECRET))
    finally:
        gateway._webhook_secrets = old
        app.config["STRIPE_WEBHOOK_SECRETS"] = old
    assert response.status_code == 200


def test_unknown_types_and_foreign_sessions_are_acknowledged(app, client):
    unknown = json.dumps(
        {
            "id": "evt_unknown_1",
            "object": "event",
            "type": "customer.created",
            "data": {"object": {"id": "cus_1"}},
        }
    ).encode()
    response = deliver(client, unknown, stripe_signature(unknown, WEBHOOK_SECRET))
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
    foreign = json.dumps(
        {
            "id": "evt_foreign_1",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": "cs_test_other",
                    "object": "checkout.session",
                    "client_reference_id": "order-9",
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_total": 100,
                    "currency": "usd",
                }
            },
        }
    ).encode()
    response = deliver(client, foreign, stripe_signature(foreign, WEBHOOK_SECRET))
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"


def test_amount_mismatch_is_recorded_and_not_fulfilled(app, client, merchant, paid_without_webhook):
    payment, payload = paid_without_webhook
    with app.app_context():  # our record says 29.99 while Stripe charged 30.00
        db.session.execute(sa.update(Payment).where(Payment.id == payment["id"]).values(amount_total=2999))
        db.session.commit()
    response = deliver(client, payload, stripe_signature(payload, WEBHOOK_SECRET))
    assert response.status_code == 200
    assert status(client, merchant, payment["id"]) == "open"
    with app.app_context():
        types = timeline_types(payment["id"])
    assert "payment.amount_mismatch" in types and "payment.fulfilled" not in types


def test_success_page_and_webhooks_racing_fulfil_exactly_once(
    app, client, merchant, paid_without_webhook, live_server
):
    payment, payload = paid_without_webhook
    barrier = threading.Barrier(8)
    results: list[int] = []

    def webhook() -> None:
        barrier.wait()
        r = requests.post(
            f"{live_server}/webhooks/stripe",
            data=payload,
            headers={
                "Stripe-Signature": stripe_signature(payload, WEBHOOK_SECRET),
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        results.append(r.status_code)

    def success_page() -> None:
        barrier.wait()
        r = requests.get(
            f"{live_server}/checkout/success",
            params={"session_id": payment["stripe_checkout_session_id"]},
            timeout=30,
        )
        results.append(r.status_code)

    threads = [threading.Thread(target=fn) for fn in [webhook, success_page] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200] * 8
    wait_for(lambda: status(client, merchant, payment["id"]) == "succeeded")
    assert counts(app, payment["id"], payload) == (1, True)
