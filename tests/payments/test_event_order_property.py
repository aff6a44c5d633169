"""Issue 3, property: any order of a payment's Stripe events, with duplicates, ends in the same
state with a single fulfilment and at most one timeline entry per real transition."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Payment, ProcessedStripeEvent, Refund, TimelineEntry, utcnow
from tests.helpers import wait_for
from tests.support.factories import timeline_types


def _scenario(shop, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Play ``kind`` for real (webhooks on); return the payment and all its Stripe events."""
    payment = shop.create()
    if kind == "decline_retry_partial_refund":
        shop.pay(payment, "4000000000000002")
        shop.pay(payment)
        shop.wait_status(payment["id"], "succeeded")
        assert shop.refund(payment["id"], amount=1000).status_code == 201
    elif kind == "bank_debit_full_refund":
        shop.pay_by_bank(payment)
        shop.wait_status(payment["id"], "processing")
        shop.sandbox.advance(6)
        shop.wait_status(payment["id"], "succeeded")
        assert shop.refund(payment["id"]).status_code == 201
    elif kind == "refund_fails_later":
        shop.pay(payment, "4000000000005126")
        shop.wait_status(payment["id"], "succeeded")
        refund = shop.refund(payment["id"]).get_json()
        wait_for(
            lambda: shop.client.get(
                f"/api/v1/refunds/{refund['id']}", headers=shop.merchant.headers
            ).get_json()["status"]
            == "failed"
        )
    elif kind == "bank_debit_fails":
        shop.pay_by_bank(payment, "000333333335")
        shop.wait_status(payment["id"], "processing")
        shop.sandbox.advance(6)
        shop.wait_status(payment["id"], "failed")
    shop.flush()
    session_id = payment["stripe_checkout_session_id"]
    intent_id = shop.stripe.v1.checkout.sessions.retrieve(session_id).payment_intent

    def ours(event: dict[str, Any]) -> bool:
        obj = event["data"]["object"]
        return obj.get("id") in (session_id, intent_id) or obj.get("payment_intent") == intent_id

    events = [e for e in shop.events_for(ours) if e["type"] != "payment_intent.succeeded"]
    return shop.get(payment["id"]), events


def _reset(app, payment_id: str, event_ids: list[str]) -> None:
    """Back to "open, nothing heard from Stripe", our refunds committed but unsettled."""
    with app.app_context():
        opened = db.session.scalar(
            sa.select(TimelineEntry.id).where(
                TimelineEntry.payment_id == payment_id, TimelineEntry.type == "payment.open"
            )
        )
        db.session.execute(
            sa.delete(TimelineEntry).where(TimelineEntry.payment_id == payment_id, TimelineEntry.id > opened)
        )
        db.session.execute(sa.delete(ProcessedStripeEvent).where(ProcessedStripeEvent.id.in_(event_ids)))
        db.session.execute(
            sa.update(Payment)
            .where(Payment.id == payment_id)
            .values(
                status="open",
                live_order_id=Payment.order_id,
                amount_refunded=0,
                paid_at=None,
                fulfilled_at=None,
                failure_code=None,
                failure_decline_code=None,
                failure_message=None,
                stripe_payment_intent_id=None,
                updated_at=utcnow(),
            )
        )
        db.session.execute(
            sa.update(Refund)
            .where(Refund.payment_id == payment_id)
            .values(status="pending", stripe_refund_id=None, failure_reason=None)
        )
        db.session.commit()


def _state(app, payment_id: str) -> dict[str, Any]:
    with app.app_context():
        db.session.rollback()
        payment = db.session.get(Payment, payment_id)
        refunds = db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment_id)).all()
        types = timeline_types(payment_id)
        return {
            "status": payment.status,
            "amount_refunded": payment.amount_refunded,
            "fulfilled": payment.fulfilled_at is not None,
            "failure_code": payment.failure_code,
            "refunds": sorted((r.id, r.status, r.stripe_refund_id) for r in refunds),
            "types": Counter(types),
        }


@pytest.mark.parametrize(
    "kind",
    ["decline_retry_partial_refund", "bank_debit_full_refund", "refund_fails_later", "bank_debit_fails"],
)
def test_any_order_and_duplicates_end_in_the_same_state(shop, app, kind):
    payment, events = _scenario(shop, kind)
    expected = _state(app, payment["id"])
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids) >= 3
    runs: list[int] = []

    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(st.sampled_from(events), max_size=len(events)).flatmap(
            lambda extra: st.permutations(events + extra)
        )
    )
    def replay(order: list[dict[str, Any]]) -> None:
        runs.append(len(order))
        _reset(app, payment["id"], ids)
        outcomes = Counter(shop.handle(event) for event in order)
        assert outcomes["processed"] + outcomes["ignored"] == len(events)
        assert outcomes["duplicate"] == len(order) - len(events)
        state = _state(app, payment["id"])
        for key in ("status", "amount_refunded", "fulfilled", "refunds"):
            assert state[key] == expected[key], (key, [e["type"] for e in order])
        types = state["types"]
        assert types["payment.fulfilled"] == (1 if expected["fulfilled"] else 0)
        for once in ("payment.succeeded", "payment.processing", "payment.failed"):
            assert types[once] <= 1, once
        assert types["refund.succeeded"] <= len(expected["refunds"])
        assert types["refund.failed"] == sum(1 for _, status, _ in expected["refunds"] if status == "failed")
        if expected["status"] == "failed":
            assert state["failure_code"] == expected["failure_code"]
        # Redelivering everything once more changes nothing.
        assert {shop.handle(event) for event in events} == {"duplicate"}
        assert _state(app, payment["id"]) == state

    replay()
    assert len(runs) >= 5  # hypothesis really tried several orders
