"""Settling refunds from Stripe's word: the one path for Stripe's answer to our request, the
``refund.*`` and ``charge.refunded`` webhooks and reconciliation, whichever comes first.

Under the payment's row lock :func:`apply_stripe_refund` moves the refund along
``REFUND_ALLOWED_FROM`` (compare-and-set), recomputes ``amount_refunded`` from the succeeded
refunds, moves the payment with :func:`~app.payments.transitions.move_refunded`, records
``refund.succeeded`` or ``refund.failed`` and tells the merchant — exactly once per real
transition, because a repeated or stale answer finds the refund already there and changes nothing.
A refund made outside this service (the Stripe Dashboard) is adopted. Amounts are integers in the
currency's minor unit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from ..db import retry_on_lock_conflict, unit_of_work
from ..extensions import db
from ..models import Payment, Refund, new_id, utcnow
from .decisions import Outcome, decide_refund
from .serializers import refund_to_dict
from .states import REFUND_ALLOWED_FROM, RefundStatus
from .transitions import lock_payment, move_refunded, notify_merchant, record

log = logging.getLogger(__name__)


def _refunds_of(payment_id: str) -> list[Refund]:
    """The payment's refunds, latest as committed: call it under the payment's row lock in a
    unit of work begun with :func:`~app.db.begin_read_committed` (every writer of a payment's
    refunds holds that lock, so a plain read suffices; a ``FOR UPDATE`` range read on
    ``refunds.payment_id`` would take gap locks and deadlock with neighbouring payments)."""
    return list(
        db.session.scalars(
            sa.select(Refund).where(Refund.payment_id == payment_id).execution_options(populate_existing=True)
        ).all()
    )


def run_settlement(work: Callable[[], object], *, dry_run: bool = False) -> None:
    """Run ``work`` (which settles a refund in the caller's unit of work) as one fresh unit of
    work at READ COMMITTED, commit (roll back in a ``dry_run``), and run it once more if it lost
    a lock conflict."""

    def unit() -> None:
        with unit_of_work(read_committed=True, dry_run=dry_run):
            work()

    retry_on_lock_conflict(unit)


def reload_refund(refund_id: str) -> Refund:
    with unit_of_work(fresh=True):
        return db.session.execute(
            sa.select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
        ).scalar_one()


def fail_refund(refund_id: str, *, reason: str, source: str) -> Refund:
    """Fail a ``pending`` refund that Stripe refused outright (``failure_reason`` = Stripe's
    error code) and record ``refund.failed``. In the caller's unit of work (no commit)."""
    refund = db.session.get(Refund, refund_id)
    assert refund is not None
    payment = lock_payment(refund.payment_id)
    refund = _locked_refund(refund_id)
    before = refund_to_dict(refund)  # for the event's previous_attributes
    if _set_refund_status(refund, RefundStatus.FAILED, failure_reason=reason[:64]):
        record(payment, "refund.failed", source=source, refund=refund, data=_refund_data(refund, payment))
        notify_merchant("refund.failed", payment, refund, previous=before)
    return refund


def _locked_refund(refund_id: str) -> Refund:
    return db.session.execute(
        sa.select(Refund)
        .where(Refund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _set_refund_status(
    refund: Refund,
    target: RefundStatus,
    *,
    failure_reason: str | None = None,
    stripe_refund_id: str | None = None,
) -> bool:
    """Compare-and-set the refund's status along ``REFUND_ALLOWED_FROM``; True if it moved.

    ``refund`` was loaded with its row locked (:func:`_locked_refund`), so it is current: it is
    set from the written values when the row changed, and left as it is when it did not."""
    values: dict[str, Any] = {"status": target.value, "updated_at": utcnow()}
    if failure_reason is not None:
        values["failure_reason"] = failure_reason
    if stripe_refund_id is not None and refund.stripe_refund_id is None:
        values["stripe_refund_id"] = stripe_refund_id
    result = db.session.execute(
        sa.update(Refund)
        .where(Refund.id == refund.id, Refund.status.in_(REFUND_ALLOWED_FROM[target]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed: bool = result.rowcount == 1  # type: ignore[attr-defined]
    if changed:
        for key, value in values.items():
            set_committed_value(refund, key, value)
    return changed


def _refund_data(refund: Refund, payment: Payment) -> dict[str, Any]:
    return {
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "failure_reason": refund.failure_reason,
        "amount_refunded": payment.amount_refunded,
        "payment_status": payment.status,
    }


def payment_for_stripe_refund(stripe_refund: dict[str, Any]) -> Payment | None:
    """Our payment for a Stripe refund: through the refund we already know, the refund's
    ``metadata.refund_id`` / ``metadata.payment_id`` (we set them), or its PaymentIntent."""
    local = _local_refund(stripe_refund)
    if local is not None:
        return db.session.get(Payment, local.payment_id)
    return payment_for_stripe_object(stripe_refund)


def payment_for_stripe_object(obj: dict[str, Any]) -> Payment | None:
    """Our payment for a Stripe refund or charge, by ``payment_intent`` or ``metadata.payment_id``."""
    intent_id = obj.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    if intent_id:
        payment = db.session.scalars(
            sa.select(Payment).where(Payment.stripe_payment_intent_id == intent_id)
        ).first()
        if payment is not None:
            return payment
    payment_id = (obj.get("metadata") or {}).get("payment_id")
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None or payment.stripe_payment_intent_id not in (None, intent_id):
        return None
    return payment


def _local_refund(stripe_refund: dict[str, Any]) -> Refund | None:
    found = db.session.scalars(
        sa.select(Refund).where(Refund.stripe_refund_id == stripe_refund["id"])
    ).first()
    if found is not None:
        return found
    ours = (stripe_refund.get("metadata") or {}).get("refund_id")
    found = db.session.get(Refund, ours) if ours else None
    if found is not None and found.stripe_refund_id in (None, stripe_refund["id"]):
        return found
    return None


def apply_stripe_refund(
    stripe_refund: dict[str, Any], *, source: str, stripe_event_id: str | None = None
) -> Refund | None:
    """Settle our refund from ``stripe_refund`` (a current Stripe Refund object as a dict).

    Finds our refund by ``stripe_refund_id`` or ``metadata.refund_id``; a refund made outside
    this service (Stripe Dashboard) on one of our payments is adopted as a new refund (recorded
    ``refund.requested``). Then, under the payment's row lock:

    - ``succeeded``: pending → succeeded; ``amount_refunded`` grows; ``refund.succeeded``.
    - ``failed`` / ``canceled`` (``failure_reason`` from Stripe): pending → failed/canceled,
      or succeeded → failed (the late failure: ``amount_refunded`` shrinks and the payment
      moves back, see :mod:`app.payments.states`); ``refund.failed`` either way.
    - ``pending`` / ``requires_action``: only the Stripe id is stored.

    Any other combination (a repeat, or a stale object) changes nothing. Returns our refund,
    or None when the refund is not ours. Works in the caller's unit of work (no commit); call
    it at the start of a transaction (it takes the payment's row lock first).
    """
    local = _local_refund(stripe_refund)
    if local is None:
        payment = payment_for_stripe_object(stripe_refund)
        if payment is None:
            log.info("stripe refund %s is not ours; ignored", stripe_refund.get("id"))
            return None
        payment = lock_payment(payment.id)
        local = _local_refund(stripe_refund) or _adopt(payment, stripe_refund, source, stripe_event_id)
    else:
        payment = lock_payment(local.payment_id)
    refund = _locked_refund(local.id)
    decision = decide_refund(stripe_refund, held=refund.status)
    was = refund.status
    if decision.outcome is Outcome.DUPLICATE:
        if refund.stripe_refund_id is None:
            refund.stripe_refund_id = stripe_refund["id"]
            refund.updated_at = utcnow()
            db.session.flush()
        return refund
    before = refund_to_dict(refund)  # for the event's previous_attributes
    moved = decision.outcome is Outcome.MOVE and _set_refund_status(
        refund, decision.target, failure_reason=decision.failure_reason, stripe_refund_id=stripe_refund["id"]
    )
    if not moved or decision.event_type is None:
        return refund
    if decision.recount:
        total = sum(r.amount for r in _refunds_of(payment.id) if r.status == RefundStatus.SUCCEEDED)
        if not move_refunded(payment, total, reversal=decision.reversal):
            log.warning(
                "payment %s (%s): refund %s is %s but the payment was not moved",
                payment.id,
                payment.status,
                refund.id,
                refund.status,
            )
    event_type = decision.event_type
    record(
        payment,
        event_type,
        source=source,
        refund=refund,
        stripe_event_id=stripe_event_id,
        stripe_object_id=stripe_refund["id"],
        data={**_refund_data(refund, payment), "previous_status": was},
    )
    notify_merchant(event_type, payment, refund, previous=before)
    return refund


def _adopt(
    payment: Payment, stripe_refund: dict[str, Any], source: str, stripe_event_id: str | None
) -> Refund:
    """A local ``pending`` refund mirroring one made outside this service."""
    return add_pending_refund(
        payment,
        amount=int(stripe_refund["amount"]),
        currency=stripe_refund.get("currency") or payment.currency,
        reason=stripe_refund.get("reason"),
        metadata={},
        source=source,
        stripe_refund_id=stripe_refund["id"],
        stripe_event_id=stripe_event_id,
    )


def add_pending_refund(
    payment: Payment,
    *,
    amount: int,
    currency: str,
    reason: str | None,
    metadata: dict[str, str],
    source: str,
    stripe_refund_id: str | None = None,
    stripe_event_id: str | None = None,
) -> Refund:
    """Add a ``pending`` refund of ``amount`` (minor units) and its ``refund.requested`` timeline
    entry to the open unit of work. ``stripe_refund_id`` is set when Stripe made the refund
    (one adopted from the Dashboard); the entry's data then says ``"origin": "stripe"``."""
    now = utcnow()
    refund = Refund(
        id=new_id("rf"),
        payment_id=payment.id,
        amount=amount,
        currency=currency,
        reason=reason,
        metadata_=metadata,
        status=RefundStatus.PENDING.value,
        stripe_refund_id=stripe_refund_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(refund)
    db.session.flush()
    data: dict[str, Any] = {"amount": amount, "currency": currency, "reason": reason}
    if stripe_refund_id is not None:
        data["origin"] = "stripe"
    record(
        payment,
        "refund.requested",
        source=source,
        refund=refund,
        stripe_event_id=stripe_event_id,
        stripe_object_id=stripe_refund_id,
        data=data,
    )
    return refund
