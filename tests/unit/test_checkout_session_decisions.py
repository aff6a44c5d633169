"""apply_checkout_session, table-driven: a move, a duplicate and a stale report of every Checkout
Session state, applied to the database (the decisions themselves: tests/unit/test_decisions.py).

Hand-made Stripe objects on a SQLite in-memory app; no sandbox, no network. The expected moves are
written out here from the state machine's picture (app/payments/states.py), not computed from it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import MerchantEvent, Payment
from app.payments.fulfilment import apply_checkout_session
from tests.support.factories import insert_payment, timeline_types
from tests.support.fake_stripe import checkout_session, payment_intent

#: Starting statuses that give every session state a move, a duplicate and a stale case; the full
#: status × session table is decided without a database in test_decisions.py.
STATUSES = ("pending", "processing", "succeeded", "expired")

CARD_CHARGE = {
    "id": "ch_1",
    "status": "succeeded",
    "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
}
DECLINE = {
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card was declined.",
}

#: Session state → (the session's members, the event type that prompted the call, the status it
#: means, the statuses a payment moves to it from).
SESSIONS = {
    "paid": (
        {"payment_status": "paid", "intent": payment_intent("pi_1", "", latest_charge=CARD_CHARGE)},
        None,
        "succeeded",
        {"pending", "open", "processing"},
    ),
    "no_payment_required": (
        {"payment_status": "no_payment_required"},
        None,
        "succeeded",
        {"pending", "open", "processing"},
    ),
    "debit_processing": (
        {"payment_status": "unpaid", "intent": payment_intent("pi_1", "", status="processing")},
        None,
        "processing",
        {"pending", "open"},
    ),
    "debit_failed": (
        {
            "payment_status": "unpaid",
            "intent": payment_intent(
                "pi_1", "", status="requires_payment_method", last_payment_error=DECLINE
            ),
        },
        None,
        "failed",
        {"pending", "open", "processing"},
    ),
    "debit_failed_unexpanded": (
        {"payment_status": "unpaid", "intent": "pi_1"},
        "checkout.session.async_payment_failed",
        "failed",
        {"pending", "open", "processing"},
    ),
    "unpaid_unexpanded": (
        {"payment_status": "unpaid", "intent": "pi_1"},
        "checkout.session.completed",
        "processing",
        {"pending", "open"},
    ),
    "expired": ({"status": "expired", "payment_status": "unpaid"}, None, "expired", {"pending", "open"}),
    "open": ({"status": "open", "payment_status": "unpaid"}, None, None, set()),
}


def _merchant_events(payment_id: str) -> list[str]:
    return list(
        db.session.scalars(sa.select(MerchantEvent.type).where(MerchantEvent.payment_id == payment_id))
    )


@pytest.mark.parametrize("kind", SESSIONS)
@pytest.mark.parametrize("start", STATUSES)
def test_a_session_moves_the_payment_forward_only_and_fulfils_once(merchant_id, start, kind):
    members, event_type, target, moves_from = SESSIONS[kind]
    payment_id = insert_payment(merchant_id, status=start, stripe_checkout_session_id="cs_1")
    session = checkout_session("cs_1", payment_id, **members)

    for _ in range(2):  # the second application is a duplicate (webhook after the success page)
        assert apply_checkout_session(session, source="webhook", event_type=event_type).id == payment_id
        db.session.commit()

    payment = db.session.get_one(Payment, payment_id)
    moved = start in moves_from
    assert payment.status == (target if moved else start)
    expected_timeline = [f"payment.{target}"] if moved else []
    if moved and target == "succeeded":
        expected_timeline.append("payment.fulfilled")
    assert timeline_types(payment_id) == expected_timeline
    assert _merchant_events(payment_id) == ([f"payment.{target}"] if moved else [])
    assert (payment.fulfilled_at is not None) == (moved and target == "succeeded")
    if moved and target == "failed":
        assert payment.failure_code == ("card_declined" if kind == "debit_failed" else "payment_failed")
        assert payment.live_order_id is None  # the order may be paid again
    if moved and kind == "paid":
        assert payment.payment_method_details == {"type": "card", "card": {"brand": "visa", "last4": "4242"}}
        assert payment.stripe_payment_intent_id == "pi_1"


def test_success_after_a_decline_clears_the_failure(merchant_id):
    payment_id = insert_payment(
        merchant_id, status="open", stripe_checkout_session_id="cs_1", failure_code="card_declined"
    )
    apply_checkout_session(checkout_session("cs_1", payment_id), source="redirect")
    db.session.commit()
    payment = db.session.get_one(Payment, payment_id)
    assert (payment.status, payment.failure_code) == ("succeeded", None)


@pytest.mark.parametrize("field", [{"amount_total": 2999}, {"currency": "eur"}])
def test_a_paid_session_for_another_amount_is_recorded_and_not_fulfilled(merchant_id, field):
    payment_id = insert_payment(merchant_id, status="open", stripe_checkout_session_id="cs_1")
    apply_checkout_session(checkout_session("cs_1", payment_id, **field), source="webhook")
    db.session.commit()
    payment = db.session.get_one(Payment, payment_id)
    assert (payment.status, payment.fulfilled_at) == ("open", None)
    assert timeline_types(payment_id) == ["payment.amount_mismatch"]
    assert _merchant_events(payment_id) == []


def test_a_session_naming_an_unknown_payment_is_not_ours(merchant_id):
    assert apply_checkout_session(checkout_session("cs_1", "pay_unknown"), source="webhook") is None


def test_a_session_other_than_the_payments_own_is_not_ours(merchant_id):
    payment_id = insert_payment(merchant_id, status="open", stripe_checkout_session_id="cs_ours")
    assert apply_checkout_session(checkout_session("cs_forged", payment_id), source="webhook") is None
    db.session.commit()
    assert db.session.get_one(Payment, payment_id).status == "open"
