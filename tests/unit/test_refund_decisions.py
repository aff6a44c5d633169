"""apply_stripe_refund, table-driven: every refund status we hold × every status Stripe reports.

Hand-made Stripe Refund objects on a SQLite in-memory app; no sandbox, no network. A $30.00
payment with one $10.00 refund; the expected outcomes are written out from the refund state
machine (app/payments/states.py: pending → succeeded/failed/canceled, succeeded → failed late).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import MerchantEvent, Payment, Refund
from app.payments.refund_settlement import apply_stripe_refund
from tests.support.factories import insert_payment, insert_refund, timeline_types
from tests.support.fake_stripe import stripe_refund

#: Our refund's status → the payment's (status, amount_refunded) that goes with it.
HELD = {
    "pending": ("succeeded", 0),
    "succeeded": ("partially_refunded", 1000),
    "failed": ("succeeded", 0),
    "canceled": ("succeeded", 0),
}

#: (ours, Stripe's) → (ours after, payment status after, amount_refunded after, timeline entry).
#: Anything not listed changes nothing.
OUTCOMES = {
    ("pending", "succeeded"): ("succeeded", "partially_refunded", 1000, "refund.succeeded"),
    ("pending", "failed"): ("failed", "succeeded", 0, "refund.failed"),
    ("pending", "canceled"): ("canceled", "succeeded", 0, "refund.failed"),
    ("succeeded", "failed"): ("failed", "succeeded", 0, "refund.failed"),  # the late failure
}

STRIPE_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")


def _paid_payment(merchant_id: str, status: str = "succeeded", amount_refunded: int = 0) -> str:
    return insert_payment(
        merchant_id,
        status=status,
        amount_refunded=amount_refunded,
        stripe_checkout_session_id="cs_1",
        stripe_payment_intent_id="pi_1",
    )


@pytest.mark.parametrize("theirs", STRIPE_STATUSES)
@pytest.mark.parametrize("ours", HELD)
def test_a_refund_settles_along_its_state_machine_once(merchant_id, ours, theirs):
    payment_status, amount_refunded = HELD[ours]
    payment_id = _paid_payment(merchant_id, payment_status, amount_refunded)
    refund_id = insert_refund(payment_id, ours)
    answer = stripe_refund(
        "re_1", status=theirs, amount=1000, intent_id="pi_1", failure_reason="lost_or_stolen_card"
    )

    for _ in range(2):  # the second is a duplicate (the webhook after Stripe's answer)
        assert apply_stripe_refund(answer, source="webhook").id == refund_id
        db.session.commit()

    refund = db.session.get_one(Refund, refund_id)
    payment = db.session.get_one(Payment, payment_id)
    after, status_after, refunded_after, entry = OUTCOMES.get(
        (ours, theirs), (ours, payment_status, amount_refunded, None)
    )
    assert refund.status == after
    assert (payment.status, payment.amount_refunded) == (status_after, refunded_after)
    assert timeline_types(payment_id) == ([entry] if entry else [])
    merchant_events = db.session.scalars(
        sa.select(MerchantEvent.type).where(MerchantEvent.payment_id == payment_id)
    ).all()
    assert merchant_events == ([entry] if entry else [])
    if entry == "refund.failed":
        assert refund.failure_reason == "lost_or_stolen_card"


def test_refunds_adding_up_to_the_total_refund_the_payment(merchant_id):
    payment_id = _paid_payment(merchant_id, "partially_refunded", 1000)
    insert_refund(payment_id, "succeeded", 1000, "re_1")
    insert_refund(payment_id, "pending", 2000, "re_2")
    apply_stripe_refund(
        stripe_refund("re_2", status="succeeded", amount=2000, intent_id="pi_1"), source="webhook"
    )
    db.session.commit()
    payment = db.session.get_one(Payment, payment_id)
    assert (payment.status, payment.amount_refunded) == ("refunded", 3000)


def test_a_refund_stripe_knows_by_our_metadata_is_ours_before_we_know_its_id(merchant_id):
    payment_id = _paid_payment(merchant_id)
    refund_id = insert_refund(payment_id, "pending", stripe_refund_id=None)
    answer = stripe_refund(
        "re_9", status="succeeded", amount=1000, intent_id="pi_1", metadata={"refund_id": refund_id}
    )
    assert apply_stripe_refund(answer, source="api").id == refund_id
    db.session.commit()
    refund = db.session.get_one(Refund, refund_id)
    assert (refund.status, refund.stripe_refund_id) == ("succeeded", "re_9")


def test_a_refund_made_in_the_stripe_dashboard_is_adopted(merchant_id):
    payment_id = _paid_payment(merchant_id)
    adopted = apply_stripe_refund(
        stripe_refund("re_dash", status="succeeded", amount=3000, intent_id="pi_1"), source="webhook"
    )
    db.session.commit()
    assert (adopted.payment_id, adopted.status, adopted.amount) == (payment_id, "succeeded", 3000)
    assert db.session.get_one(Payment, payment_id).status == "refunded"
    assert timeline_types(payment_id) == ["refund.requested", "refund.succeeded"]


def test_a_refund_of_a_payment_that_is_not_ours_is_ignored(merchant_id):
    assert (
        apply_stripe_refund(
            stripe_refund("re_x", status="succeeded", amount=10, intent_id="pi_other"), source="webhook"
        )
        is None
    )
