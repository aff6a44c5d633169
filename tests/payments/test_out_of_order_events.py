"""Issue 3, part 4: no event moves a payment backwards, whatever order or age it arrives in."""

from __future__ import annotations

import copy
import json
import time

import requests

from app.stripe_gateway import GatewayDown
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import stripe_signature, wait_for
from tests.payments.conftest import session_event_matcher


def post_event(live_server: str, event: dict) -> requests.Response:
    payload = json.dumps(event).encode()
    return requests.post(
        f"{live_server}/webhooks/stripe",
        data=payload,
        headers={
            "Stripe-Signature": stripe_signature(payload, WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def renamed(event: dict, suffix: str, **changes) -> dict:
    """A copy of ``event`` under a new id (another delivery of the same news), with ``changes``."""
    copied = copy.deepcopy(event)
    copied["id"] = f"{event['id']}_{suffix}"
    copied.update(changes)
    return copied


def test_expired_after_completed_changes_nothing(shop, live_server):
    payment = shop.paid()
    shop.flush()
    completed = shop.events_for(session_event_matcher(payment, "checkout.session.completed"))[0]
    expired = renamed(completed, "expired", type="checkout.session.expired")
    expired["data"]["object"].update(status="expired", payment_status="unpaid")
    response = post_event(live_server, expired)
    assert response.status_code == 200 and response.json()["outcome"] == "processed"
    after = shop.get(payment["id"])
    assert after["status"] == "succeeded" and after["fulfilled_at"] == payment["fulfilled_at"]
    assert "payment.expired" not in shop.types(payment["id"])


def test_async_payment_succeeded_twice_fulfils_once(shop, live_server):
    payment = shop.settled_by_bank()
    settled = shop.events_for(session_event_matcher(payment, "checkout.session.async_payment_succeeded"))[0]
    assert post_event(live_server, settled).json()["outcome"] == "duplicate"
    assert post_event(live_server, renamed(settled, "again")).json()["outcome"] == "processed"
    types = shop.types(payment["id"])
    assert types.count("payment.fulfilled") == 1 and types.count("payment.succeeded") == 1


def test_old_completed_unpaid_event_redelivered_days_later(shop, live_server):
    payment = shop.settled_by_bank()
    completed = shop.events_for(session_event_matcher(payment, "checkout.session.completed"))[0]
    assert completed["data"]["object"]["payment_status"] == "unpaid"
    old = renamed(completed, "late", created=completed["created"] - 3 * 86400)
    assert post_event(live_server, old).json()["outcome"] == "processed"
    assert shop.get(payment["id"])["status"] == "succeeded"
    assert shop.types(payment["id"]).count("payment.processing") == 1


def test_completed_unpaid_after_settlement_goes_straight_to_succeeded(shop):
    """The ``completed`` (unpaid) event arrives only after the debit settled: Stripe's current
    session says paid, so the payment is fulfilled, never shown ``processing`` after the fact."""
    payment = shop.create()
    shop.sandbox.webhooks(False)
    shop.pay_by_bank(payment)
    shop.sandbox.advance(6)
    shop.sandbox.webhooks(True)
    completed = shop.events_for(session_event_matcher(payment, "checkout.session.completed"))[0]
    assert shop.handle(completed) == "processed"
    after = shop.get(payment["id"])
    assert after["status"] == "succeeded" and after["fulfilled_at"]
    settled = shop.events_for(session_event_matcher(payment, "checkout.session.async_payment_succeeded"))[0]
    assert shop.handle(settled) == "processed"
    assert shop.db_types(payment["id"]).count("payment.fulfilled") == 1


def test_refund_events_before_our_refund_is_settled(shop, app, monkeypatch):
    """Stripe made the refund but its answer never reached us: the webhooks settle our refund."""
    payment = shop.paid()
    gateway = app.extensions["stripe_gateways"].live
    real = gateway.create_refund

    def lost_answer(params, *, idempotency_key):
        real(params, idempotency_key=idempotency_key)
        raise GatewayDown("connection reset")

    monkeypatch.setattr(gateway, "create_refund", lost_answer)
    response = shop.refund(payment["id"], amount=1200)
    monkeypatch.undo()
    assert response.status_code == 201
    refund = response.get_json()
    # Stripe's refund.created webhook may already have settled it by the time we answer.
    assert (refund["status"], refund["stripe_refund_id"] is None) in (("pending", True), ("succeeded", False))

    settled = wait_for(
        lambda: (
            r := shop.client.get(f"/api/v1/refunds/{refund['id']}", headers=shop.merchant.headers).get_json()
        )["status"]
        == "succeeded"
        and r
    )
    assert settled["stripe_refund_id"].startswith("re_")
    shop.flush()
    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("partially_refunded", 1200)
    entries = [e for e in shop.timeline(payment["id"]) if e["type"] == "refund.succeeded"]
    assert len(entries) == 1 and entries[0]["source"] == "webhook"

    # Our retry (reconciliation) under the same idempotency key finds the same Stripe refund.
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert len(shop.stripe.v1.refunds.list(params={"payment_intent": _intent(shop, payment)}).data) == 1
    assert shop.get(payment["id"])["amount_refunded"] == 1200


def test_refund_event_for_a_payment_not_yet_known_paid(shop):
    """``charge.refunded`` before ``checkout.session.completed``: the session is applied first."""
    payment = shop.create()
    shop.sandbox.webhooks(False)
    shop.pay(payment)
    shop.stripe.v1.refunds.create(params={"payment_intent": _intent(shop, payment), "amount": 400})
    shop.sandbox.webhooks(True)
    refunded = shop.events_for(lambda e: e["type"] == "charge.refunded" and _about(e, shop, payment))[0]
    assert shop.handle(refunded) == "processed"
    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("partially_refunded", 400)
    assert after["fulfilled_at"]
    completed = shop.events_for(session_event_matcher(payment, "checkout.session.completed"))[0]
    assert shop.handle(completed) == "processed"
    types = shop.db_types(payment["id"])
    assert types.count("payment.fulfilled") == 1 and types.count("refund.succeeded") == 1


def _intent(shop, payment) -> str:
    return shop.stripe.v1.checkout.sessions.retrieve(payment["stripe_checkout_session_id"]).payment_intent


def _about(event, shop, payment) -> bool:
    return event["data"]["object"].get("payment_intent") == _intent(shop, payment)


def test_unknown_and_foreign_events_are_acknowledged(shop, live_server):
    foreign = {
        "id": f"evt_foreign_{time.time_ns()}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {"object": {"id": "cs_test_other", "object": "checkout.session", "client_reference_id": "x"}},
    }
    assert post_event(live_server, foreign).json()["outcome"] == "ignored"
    other = renamed(foreign, "type", type="customer.created")
    assert post_event(live_server, other).json()["outcome"] == "ignored"
