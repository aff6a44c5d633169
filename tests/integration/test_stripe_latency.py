"""A slow Stripe slows the requests that call it, and nothing else (issue 10, section 3).

With every Stripe API call taking 2 s, several merchant creates are left waiting on Stripe; while
they wait, a shopper's ``GET /pay/<id>`` for an open payment gets its 303 to the hosted page and
Stripe's signed webhook is accepted and applied. The test asserts the order of events (both
answered while every slow create was still waiting for Stripe), not a time threshold, and
prints the timings.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import Payment
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import payment_body, stripe_signature, wait_for
from tests.support.factories import timeline_types

STRIPE_LATENCY = 2.0
SLOW_CREATES = 4


def declined_attempt_event(sandbox_ctl, session_id: str, payment_id: str) -> bytes:
    """A declined card on the session, with the sandbox's webhooks held back: the raw
    ``payment_intent.payment_failed`` event, for the test to deliver when it chooses."""
    sandbox_ctl.webhooks(False)
    try:
        sandbox_ctl.pay(session_id, card_number="4000000000000002")
    finally:
        sandbox_ctl.webhooks(True)
    events = requests.get(
        f"{sandbox_ctl.url}/v1/events",
        params={"type": "payment_intent.payment_failed", "limit": 100},
        headers={"Authorization": "Bearer sk_test_suite"},
        timeout=10,
    ).json()["data"]
    event = next(e for e in events if e["data"]["object"]["metadata"].get("payment_id") == payment_id)
    return json.dumps(event).encode()


def pending_creates(app, prefix: str) -> int:
    """How many payments of ``prefix`` orders are stored and waiting for their Checkout Session."""
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Payment)
            .where(Payment.order_id.startswith(prefix), Payment.status == "pending")
        )
        db.session.rollback()
        return int(count or 0)


def test_pay_page_and_stripe_webhook_do_not_wait_behind_slow_stripe_calls(
    app, client, merchant, sandbox_ctl, live_server
):
    created = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers)
    assert created.status_code == 201
    payment = created.get_json()
    payload = declined_attempt_event(sandbox_ctl, payment["stripe_checkout_session_id"], payment["id"])

    def slow_create(index: int) -> tuple[int, float]:
        response = requests.post(
            f"{live_server}/api/v1/payments",
            json=payment_body(order_id=f"SLOW-{index}"),
            headers=merchant.headers,
            timeout=30,
        )
        return response.status_code, time.monotonic()

    with (
        sandbox_ctl.faults({"latency": STRIPE_LATENCY}),
        ThreadPoolExecutor(SLOW_CREATES) as pool,
    ):
        started = time.monotonic()
        creates = [pool.submit(slow_create, i) for i in range(SLOW_CREATES)]
        wait_for(lambda: pending_creates(app, "SLOW-") == SLOW_CREATES, timeout=10)
        in_flight_at = time.monotonic()

        hop = requests.get(payment["checkout_url"], allow_redirects=False, timeout=30)
        pay_answered_at = time.monotonic()
        webhook = requests.post(
            f"{live_server}/webhooks/stripe",
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(payload, WEBHOOK_SECRET),
            },
            timeout=30,
        )
        webhook_answered_at = time.monotonic()
        answered_meanwhile = sum(future.done() for future in creates)
        still_waiting_on_stripe = pending_creates(app, "SLOW-")
        results = [future.result() for future in creates]

    print(
        f"\nStripe latency {STRIPE_LATENCY} s: {SLOW_CREATES} creates in flight at "
        f"{in_flight_at - started:.2f} s; "
        f"GET /pay answered {hop.status_code} at {pay_answered_at - started:.2f} s, "
        f"webhook {webhook.status_code} at {webhook_answered_at - started:.2f} s; "
        f"creates answered {sorted(status for status, _ in results)} at "
        f"{', '.join(f'{done - started:.2f}' for _, done in sorted(results, key=lambda r: r[1]))} s"
    )
    assert hop.status_code == 303 and hop.headers["Location"].startswith(f"{sandbox_ctl.url}/pay/cs_")
    assert webhook.status_code == 200, webhook.text
    assert [status for status, _ in results] == [201] * SLOW_CREATES
    # Both answered while every slow create was still waiting for Stripe's answer.
    assert answered_meanwhile == 0 and still_waiting_on_stripe == SLOW_CREATES
    with app.app_context():
        applied = timeline_types(payment["id"])
    assert "payment.failed_attempt" in applied
