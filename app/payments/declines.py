"""Declined and failed payment attempts: the payment's ``failure`` columns and the
``payment.failed_attempt`` timeline entry (``payment_intent.payment_failed``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..db import read_back
from ..extensions import db
from ..models import Payment, TimelineEntry, utcnow
from .decisions import decide_failed_attempt
from .lookups import payment_for_intent
from .states import UNSETTLED
from .transitions import record


def record_failed_attempt(
    intent: dict[str, Any], *, source: str, stripe_event_id: str | None, created: int | None
) -> Payment | None:
    """Record a declined or failed attempt (``payment_intent.payment_failed``) on the timeline.

    ``intent`` is the PaymentIntent *as the event carried it*: its ``last_payment_error``
    (``{code, decline_code, message, type}``) describes that very attempt, so it is not
    refetched. ``created`` is the event's ``created`` (unix seconds).

    Adds ``payment.failed_attempt`` with ``{code, decline_code, message, type, charge,
    stripe_created}``. The status does not change: Checkout lets the shopper try again until
    the session expires (Stripe, "Checkout: declined payments"). While the payment is still
    ``pending``, ``open`` or ``processing`` the payment's ``failure`` columns show this attempt,
    unless an attempt with a later ``created`` was already recorded (events arrive in any
    order). Returns the payment, or None when the intent is not ours. Does not commit.
    """
    payment = payment_for_intent(intent)
    if payment is None:
        return None
    earlier = db.session.scalars(
        sa.select(TimelineEntry.data).where(
            TimelineEntry.payment_id == payment.id, TimelineEntry.type == "payment.failed_attempt"
        )
    ).all()
    decision = decide_failed_attempt(
        intent,
        created=created,
        status=payment.status,
        newest_recorded=max(((entry or {}).get("stripe_created") or 0 for entry in earlier), default=0),
    )
    record(
        payment,
        "payment.failed_attempt",
        source=source,
        stripe_event_id=stripe_event_id,
        stripe_object_id=intent["id"],
        data=decision.data,
    )
    if decision.failure is not None:
        db.session.execute(
            sa.update(Payment)
            .where(Payment.id == payment.id, Payment.status.in_(UNSETTLED))
            .values(**decision.failure, stripe_payment_intent_id=intent["id"], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        read_back(payment)
    return payment
