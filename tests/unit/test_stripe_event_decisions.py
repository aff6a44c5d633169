"""process_event, table-driven: every handled event type × every payment status, plus stale,
duplicate, unknown and foreign events.

Hand-made events and current Stripe objects (:class:`FakeStripe`) on a SQLite in-memory app; no
sandbox, no network. The rule under test: the event is claimed once, and what is applied is the
*current* object fetched from Stripe, never the event's snapshot.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import MerchantEvent, Payment, ProcessedStripeEvent, Refund
from app.payments import stripe_events
from app.payments.stripe_event_shape import EventMalformed
from app.payments.stripe_events import HANDLED_TYPES
from app.stripe_gateway import stripe_gateways
from tests.support.factories import insert_payment, insert_refund, timeline_types
from tests.support.fake_stripe import checkout_session, event, payment_intent, stripe_refund


def process_event(event, **options):
    """A live-mode event (from the live account) through :func:`stripe_events.process_event`."""
    return stripe_events.process_event(event, stripe_gateways(), livemodes=frozenset({True}), **options)


#: Starting statuses with an unsettled, a paid and a final payment (each routing decision on its
#: own, for every status: test_decisions.py).
STATUSES = ("open", "processing", "succeeded", "expired")
SESSION_EVENTS = (
    "checkout.session.completed",
    "checkout.session.expired",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)


def _payment(merchant_id: str, status: str = "open", **fields) -> str:
    return insert_payment(
        merchant_id,
        status=status,
        stripe_checkout_session_id="cs_1",
        stripe_payment_intent_id="pi_1",
        **fields,
    )


def _claimed() -> list[str]:
    return list(db.session.scalars(sa.select(ProcessedStripeEvent.id)))


@pytest.mark.parametrize("event_type", SESSION_EVENTS)
@pytest.mark.parametrize("start", STATUSES)
def test_a_session_event_applies_the_current_session_whatever_its_snapshot_says(
    domain, merchant_id, start, event_type
):
    payment_id = _payment(merchant_id, start)
    # The snapshot is stale (still open); Stripe's current session is paid.
    domain.sessions["cs_1"] = checkout_session("cs_1", payment_id)
    snapshot = checkout_session("cs_1", payment_id, status="open", payment_status="unpaid")

    result = process_event(event("evt_1", event_type, snapshot), source="webhook")

    unsettled = start in ("pending", "open", "processing")
    assert result.outcome == "processed"
    assert (result.status_before, result.status_after) == (start, "succeeded" if unsettled else start)
    assert db.session.get_one(Payment, payment_id).status == result.status_after
    assert timeline_types(payment_id) == (["payment.succeeded", "payment.fulfilled"] if unsettled else [])
    assert domain.calls == ["checkout_session cs_1"]


def _snapshot(event_type: str, payment_id: str) -> dict:
    """The object an event of ``event_type`` about the payment carries (Stripe's current objects,
    set by the test, are a paid session ``cs_1`` and a pending refund ``re_1``)."""
    return {
        "checkout": checkout_session("cs_1", payment_id),
        "payment_intent": payment_intent("pi_1", payment_id, status="requires_payment_method"),
        "refund": stripe_refund("re_1", status="pending", amount=1000, intent_id="pi_1"),
        "charge": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "metadata": {}},
    }[event_type.split(".")[0]]


def _state(payment_id: str) -> tuple:
    """Everything an event may change about a payment: its row, its refunds, its timeline and
    the merchant events it produced."""
    payment = db.session.get_one(Payment, payment_id)
    refunds = db.session.scalars(sa.select(Refund.status).where(Refund.payment_id == payment_id)).all()
    told = db.session.scalars(sa.select(MerchantEvent.type).where(MerchantEvent.payment_id == payment_id))
    return (
        payment.status,
        payment.amount_refunded,
        payment.failure_code,
        sorted(refunds),
        timeline_types(payment_id),
        sorted(told),
    )


@pytest.mark.parametrize("event_type", HANDLED_TYPES)
def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(domain, merchant_id, event_type):
    payment_id = _payment(merchant_id, "open")
    domain.sessions["cs_1"] = checkout_session("cs_1", payment_id)
    domain.refunds["re_1"] = stripe_refund("re_1", status="pending", amount=1000, intent_id="pi_1")
    obj = _snapshot(event_type, payment_id)
    first = process_event(event("evt_1", event_type, obj), source="webhook")
    timeline = timeline_types(payment_id)

    again = process_event(event("evt_1", event_type, obj), source="reconcile")

    assert (first.outcome, again.outcome) == ("processed", "duplicate")
    assert timeline_types(payment_id) == timeline
    assert _claimed() == ["evt_1"]


@pytest.mark.parametrize("event_type", HANDLED_TYPES)
@pytest.mark.parametrize("start", STATUSES)
def test_the_same_event_twice_is_applied_once_whatever_the_payments_status(
    domain, merchant_id, start, event_type
):
    # Rule: each Stripe event is applied once (its id is claimed together with its effect).
    payment_id = _payment(merchant_id, start)
    domain.sessions["cs_1"] = checkout_session("cs_1", payment_id)
    domain.refunds["re_1"] = stripe_refund("re_1", status="pending", amount=1000, intent_id="pi_1")
    delivered = event("evt_1", event_type, _snapshot(event_type, payment_id))
    process_event(delivered, source="webhook")
    after_first = _state(payment_id)

    again = process_event(delivered, source="reconcile")

    assert again.outcome == "duplicate"
    assert _state(payment_id) == after_first
    assert _claimed() == ["evt_1"]


def test_a_stale_session_event_after_a_newer_one_changes_nothing(domain, merchant_id):
    payment_id = _payment(merchant_id, "open")
    domain.sessions["cs_1"] = checkout_session("cs_1", payment_id)
    process_event(
        event("evt_2", "checkout.session.async_payment_succeeded", domain.sessions["cs_1"]), source="webhook"
    )
    late = checkout_session("cs_1", payment_id, payment_status="unpaid", intent="pi_1")

    result = process_event(event("evt_1", "checkout.session.completed", late, created=1), source="webhook")

    assert (result.outcome, result.changed) == ("processed", False)
    assert timeline_types(payment_id) == ["payment.succeeded", "payment.fulfilled"]


def test_an_object_stripe_does_not_know_is_claimed_and_ignored_never_applied_from_its_snapshot(
    domain, merchant_id
):
    payment_id = _payment(merchant_id, "open")
    forged = checkout_session("cs_1", payment_id)  # says paid; Stripe answers 404

    result = process_event(event("evt_1", "checkout.session.completed", forged), source="webhook")

    assert result.outcome == "ignored"
    assert db.session.get_one(Payment, payment_id).status == "open"
    assert _claimed() == ["evt_1"]


def test_an_event_about_someone_elses_session_is_ignored_without_asking_stripe(domain, merchant_id):
    result = process_event(
        event("evt_1", "checkout.session.completed", checkout_session("cs_9", "pay_x")), source="webhook"
    )
    assert result.outcome == "ignored"
    assert domain.calls == []


def test_an_unhandled_event_type_is_ignored(domain, merchant_id):
    result = process_event(event("evt_1", "customer.created", {"id": "cus_1"}), source="webhook")
    assert result.outcome == "ignored"


def test_a_malformed_event_is_refused_and_not_claimed(domain, merchant_id):
    with pytest.raises(EventMalformed):
        process_event({"id": "evt_1", "type": "checkout.session.completed", "data": {}}, source="webhook")
    assert _claimed() == []


def test_a_dry_run_claims_nothing_and_changes_nothing(domain, merchant_id):
    payment_id = _payment(merchant_id, "open")
    domain.sessions["cs_1"] = checkout_session("cs_1", payment_id)

    result = process_event(
        event("evt_1", "checkout.session.completed", domain.sessions["cs_1"]),
        source="reconcile",
        dry_run=True,
    )

    assert (result.status_before, result.status_after) == ("open", "succeeded")
    assert db.session.get_one(Payment, payment_id).status == "open"
    assert _claimed() == []


DECLINE = {
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Declined.",
    "type": "card_error",
}


@pytest.mark.parametrize("start", STATUSES)
def test_a_declined_attempt_is_recorded_from_the_snapshot_and_never_moves_the_payment(
    domain, merchant_id, start
):
    payment_id = _payment(merchant_id, start)
    intent = payment_intent("pi_1", payment_id, status="requires_payment_method", last_payment_error=DECLINE)

    result = process_event(event("evt_1", "payment_intent.payment_failed", intent), source="webhook")

    payment = db.session.get_one(Payment, payment_id)
    assert (result.outcome, payment.status) == ("processed", start)
    assert timeline_types(payment_id) == ["payment.failed_attempt"]
    assert payment.failure_code == ("card_declined" if start in ("pending", "open", "processing") else None)
    assert domain.calls == []  # the snapshot is the record of that attempt


def test_an_older_declined_attempt_does_not_overwrite_a_newer_one(domain, merchant_id):
    payment_id = _payment(merchant_id, "open")
    newer = payment_intent("pi_1", payment_id, last_payment_error={**DECLINE, "code": "expired_card"})
    older = payment_intent("pi_1", payment_id, last_payment_error=DECLINE)
    process_event(event("evt_2", "payment_intent.payment_failed", newer, created=200), source="webhook")
    process_event(event("evt_1", "payment_intent.payment_failed", older, created=100), source="webhook")
    assert db.session.get_one(Payment, payment_id).failure_code == "expired_card"
    assert timeline_types(payment_id) == ["payment.failed_attempt", "payment.failed_attempt"]


@pytest.mark.parametrize(
    "event_type", ["refund.created", "refund.updated", "refund.failed", "charge.refunded"]
)
def test_a_refund_event_settles_the_current_refund_not_the_snapshot(domain, merchant_id, event_type):
    payment_id = _payment(merchant_id, "succeeded")
    refund_id = insert_refund(payment_id)
    domain.refunds["re_1"] = stripe_refund("re_1", status="succeeded", amount=1000, intent_id="pi_1")
    snapshot = (
        {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "metadata": {}}
        if event_type == "charge.refunded"
        else stripe_refund("re_1", status="pending", amount=1000, intent_id="pi_1")
    )

    result = process_event(event("evt_1", event_type, snapshot), source="webhook")

    assert (result.status_before, result.status_after) == ("succeeded", "partially_refunded")
    assert (result.amount_refunded_before, result.amount_refunded_after) == (0, 1000)
    assert db.session.get_one(Refund, refund_id).status == "succeeded"
    assert timeline_types(payment_id) == ["refund.succeeded"]


def test_a_refund_event_before_the_payment_is_known_paid_applies_the_session_first(domain, merchant_id):
    payment_id = _payment(merchant_id, "open")
    domain.sessions["cs_1"] = checkout_session("cs_1", payment_id)
    domain.refunds["re_1"] = stripe_refund("re_1", status="succeeded", amount=3000, intent_id="pi_1")

    result = process_event(event("evt_1", "refund.created", domain.refunds["re_1"]), source="webhook")

    assert (result.status_before, result.status_after) == ("open", "refunded")
    assert timeline_types(payment_id) == [
        "payment.succeeded",
        "payment.fulfilled",
        "refund.requested",
        "refund.succeeded",
    ]
