"""Refunds: reserve the amount in the database, ask Stripe, settle from Stripe's word — once.

Creating a refund (:func:`create_refund`) is three short steps, none of them holding a database
transaction across the network:

1. In one transaction: lock the payment row (``SELECT … FOR UPDATE``; SQLite serialises write
   transactions with ``BEGIN IMMEDIATE``), check that the payment is refundable and that the
   *reserving* refunds (``pending`` + ``succeeded``) plus the new amount stay within
   ``amount_total``, insert the refund as ``pending`` and record ``refund.requested``; commit.
   Two concurrent requests are serialised on the row lock, so the total can never be exceeded.
2. Call Stripe's Refunds API with the idempotency key ``refund-<our refund id>`` (a retry —
   ours or reconciliation's — can never refund twice) and ``metadata.refund_id`` /
   ``metadata.payment_id``, so that a webhook arriving before step 3 finds our refund.
3. Settle the refund from Stripe's answer (:func:`apply_stripe_refund`).

Settling (:func:`apply_stripe_refund`) is the one path for Stripe's answer, the ``refund.*`` and
``charge.refunded`` webhooks and reconciliation, whichever comes first: under the payment's row
lock it moves the refund along ``REFUND_ALLOWED_FROM`` (compare-and-set), recomputes
``amount_refunded`` from the succeeded refunds, moves the payment with
:func:`~app.payments.transitions.move_refunded` and records ``refund.succeeded`` or
``refund.failed`` — exactly once per real transition, because a repeated or stale answer finds
the refund already there and changes nothing.

Amounts are integers in the payment currency's minor unit, exactly as Stripe takes them (yen for
``jpy``: zero-decimal amounts are not multiplied; three-decimal amounts must end in 0).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..db import begin_read_committed, retry_on_lock_conflict
from ..errors import Conflict, InvalidRequest, Unprocessable
from ..extensions import db
from ..models import Payment, Refund, new_id, utcnow
from ..stripe_gateway import GatewayDown, GatewayRejected, gateway
from .currencies import amount_step, format_amount
from .schemas import RefundCreate
from .serializers import refund_to_dict
from .states import (
    REFUND_ALLOWED_FROM,
    REFUND_RESERVING,
    REFUNDABLE,
    RefundStatus,
    refund_status_from_stripe,
)
from .transitions import lock_payment, move_refunded, record

log = logging.getLogger(__name__)


def stripe_idempotency_key(refund_id: str) -> str:
    """The Stripe idempotency key of our refund ``refund_id``: ``refund-<refund id>``."""
    return f"refund-{refund_id}"


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


def create_refund(payment: Payment, request: RefundCreate, *, source: str = "api") -> Refund:
    """Refund ``request.amount`` (default: all that is not yet refunded or being refunded) of
    ``payment`` and return the refund, settled as far as Stripe's answer allows.

    Raises :class:`InvalidRequest` (``param="amount"``) when the amount is not a multiple of
    ``amount_step(currency)``; :class:`Conflict` ``payment_not_refundable`` unless the payment is
    ``succeeded`` or ``partially_refunded``; :class:`Conflict` ``refund_exceeds_amount`` when the
    pending and succeeded refunds plus this one would exceed ``amount_total``;
    :class:`Unprocessable` ``gateway_rejected`` (with ``refund_id``) when Stripe refuses the
    refund (it is then ``failed``). When Stripe cannot be reached the refund stays ``pending``
    and is returned as such: reconciliation sends it again under the same idempotency key.
    """
    step = amount_step(payment.currency)
    if request.amount is not None and request.amount % step:
        raise InvalidRequest(
            f"Invalid amount: Amounts in {payment.currency.upper()} must be multiples of {step}.",
            param="amount",
        )
    payment_id = payment.id
    intent_id = _payment_intent_of(payment)

    # 1. Reserve the amount under the payment's row lock; commit (once more on a lost lock conflict).
    refund = retry_on_lock_conflict(lambda: _reserve(payment_id, request, source))
    return send_refund(refund, intent_id=intent_id, source=source)


def _reserve(payment_id: str, request: RefundCreate, source: str) -> Refund:
    """Step 1 of :func:`create_refund`, one transaction: lock the payment row first, check, add
    the ``pending`` refund, commit.

    The refunds are read with a *plain* read at READ COMMITTED: every writer of a payment's
    refunds holds the payment's row lock, which already serialises them, so the read sees every
    refund committed before the lock was granted. A locking read here
    (``SELECT … FROM refunds WHERE payment_id = ? FOR UPDATE``) would take gap locks on the
    secondary index, and the ``INSERT`` that follows would then deadlock (MariaDB 1213) with a
    concurrent refund of a *neighbouring* payment.
    """
    db.session.rollback()
    begin_read_committed()
    locked = lock_payment(payment_id)
    if locked.status not in REFUNDABLE:
        db.session.rollback()
        raise Conflict(
            f"Only a succeeded or partially refunded payment can be refunded; this one is {locked.status}.",
            code="payment_not_refundable",
        )
    reserved = db.session.scalar(
        sa.select(sa.func.sum(Refund.amount)).where(
            Refund.payment_id == payment_id, Refund.status.in_(REFUND_RESERVING)
        )
    )
    remaining = locked.amount_total - int(reserved or 0)
    amount = remaining if request.amount is None else request.amount
    if amount <= 0 or amount > remaining:
        db.session.rollback()
        raise Conflict(
            f"The refund would exceed the payment: {format_amount(max(remaining, 0), locked.currency)} "
            "is left to refund.",
            code="refund_exceeds_amount",
            param="amount",
            amount_refundable=max(remaining, 0),
        )
    refund = _add_pending_refund(
        locked,
        amount=amount,
        currency=locked.currency,
        reason=request.reason,
        metadata=dict(request.metadata),
        source=source,
    )
    db.session.commit()
    return refund


def send_refund(refund: Refund, *, intent_id: str | None, source: str) -> Refund:
    """Ask Stripe for a ``pending`` refund not known to Stripe yet, then settle it.

    Safe to repeat: the idempotency key ``refund-<id>`` makes Stripe answer with the same
    refund. No transaction is open during the call. Stripe refusing (4xx other than an
    idempotency conflict) fails the refund and raises :class:`Unprocessable`
    ``gateway_rejected``; Stripe unreachable leaves it ``pending``.
    """
    refund_id = refund.id
    params: dict[str, Any] = {
        "amount": refund.amount,
        "metadata": {"refund_id": refund.id, "payment_id": refund.payment_id},
    }
    if intent_id:
        params["payment_intent"] = intent_id
    if refund.reason:
        params["reason"] = refund.reason
    db.session.commit()  # no transaction may stay open across the network call
    try:
        answer = gateway().create_refund(params, idempotency_key=stripe_idempotency_key(refund_id))
    except GatewayDown:
        log.warning("refund %s: Stripe unreachable; stays pending for reconciliation", refund_id)
        return _reload(refund_id)
    except GatewayRejected as exc:
        if exc.error_type == "idempotency_error":  # the same request is still running elsewhere
            log.warning("refund %s: %s; stays pending", refund_id, exc.message)
            return _reload(refund_id)
        reason = exc.code or "gateway_rejected"
        _settle(lambda: fail_refund(refund_id, reason=reason, source=source))
        raise Unprocessable(
            f"Stripe refused the refund: {exc.message}", code="gateway_rejected", refund_id=refund_id
        ) from exc
    _settle(lambda: apply_stripe_refund(answer, source=source))
    return _reload(refund_id)


def _settle(work: Callable[[], object], *, dry_run: bool = False) -> None:
    """Run ``work`` (which settles a refund in the caller's unit of work) as one fresh unit of
    work at READ COMMITTED, commit (roll back in a ``dry_run``), and run it once more if it lost
    a lock conflict."""

    def unit() -> None:
        db.session.rollback()
        begin_read_committed()
        work()
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()

    retry_on_lock_conflict(unit)


def _reload(refund_id: str) -> Refund:
    db.session.rollback()
    return db.session.execute(
        sa.select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
    ).scalar_one()


def _payment_intent_of(payment: Payment) -> str | None:
    """The payment's PaymentIntent id, asking Stripe for the session's when we lack it."""
    if payment.stripe_payment_intent_id or not payment.stripe_checkout_session_id:
        return payment.stripe_payment_intent_id
    session_id = payment.stripe_checkout_session_id
    db.session.commit()
    try:
        session = gateway().retrieve_checkout_session(session_id)
    except (GatewayDown, GatewayRejected):
        return None
    intent = session.get("payment_intent")
    return intent.get("id") if isinstance(intent, dict) else intent


def fail_refund(refund_id: str, *, reason: str, source: str) -> Refund:
    """Fail a ``pending`` refund that Stripe refused outright (``failure_reason`` = Stripe's
    error code) and record ``refund.failed``. In the caller's unit of work (no commit)."""
    refund = db.session.get(Refund, refund_id)
    assert refund is not None
    payment = lock_payment(refund.payment_id)
    refund = _locked_refund(refund_id)
    before = refund_to_dict(refund)
    if _set_refund_status(refund, RefundStatus.FAILED, failure_reason=reason[:64]):
        data = _refund_data(refund, payment)
        record(payment, "refund.failed", source=source, refund=refund, data=data, previous=before)
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
    """Compare-and-set the refund's status along ``REFUND_ALLOWED_FROM``; True if it moved."""
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
    db.session.refresh(refund)
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


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
    target = refund_status_from_stripe(stripe_refund.get("status"))
    was = refund.status
    if target == RefundStatus.PENDING or target.value == was:
        if refund.stripe_refund_id is None:
            refund.stripe_refund_id = stripe_refund["id"]
            refund.updated_at = utcnow()
            db.session.flush()
        return refund
    before = refund_to_dict(refund)
    failure = stripe_refund.get("failure_reason") or (
        "canceled" if target == RefundStatus.CANCELED else "unknown"
    )
    moved = _set_refund_status(
        refund,
        target,
        failure_reason=None if target == RefundStatus.SUCCEEDED else failure[:64],
        stripe_refund_id=stripe_refund["id"],
    )
    if not moved:
        return refund
    if target == RefundStatus.SUCCEEDED or was == RefundStatus.SUCCEEDED:
        total = sum(r.amount for r in _refunds_of(payment.id) if r.status == RefundStatus.SUCCEEDED)
        if not move_refunded(payment, total, reversal=target != RefundStatus.SUCCEEDED):
            log.warning(
                "payment %s (%s): refund %s is %s but the payment was not moved",
                payment.id,
                payment.status,
                refund.id,
                refund.status,
            )
    event_type = "refund.succeeded" if target == RefundStatus.SUCCEEDED else "refund.failed"
    record(
        payment,
        event_type,
        source=source,
        refund=refund,
        stripe_event_id=stripe_event_id,
        stripe_object_id=stripe_refund["id"],
        data={**_refund_data(refund, payment), "previous_status": was},
        previous=before,
    )
    return refund


def _adopt(
    payment: Payment, stripe_refund: dict[str, Any], source: str, stripe_event_id: str | None
) -> Refund:
    """A local ``pending`` refund mirroring one made outside this service."""
    return _add_pending_refund(
        payment,
        amount=int(stripe_refund["amount"]),
        currency=stripe_refund.get("currency") or payment.currency,
        reason=stripe_refund.get("reason"),
        metadata={},
        source=source,
        stripe_refund_id=stripe_refund["id"],
        stripe_event_id=stripe_event_id,
    )


def _add_pending_refund(
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


def refresh_refund(refund_id: str, *, source: str, dry_run: bool = False) -> tuple[str, str]:
    """Reconcile one ``pending`` refund with Stripe (no transaction open during the calls).

    Known to Stripe: retrieve it and settle. Not known (our call never got an answer): look
    for it among the PaymentIntent's refunds by ``metadata.refund_id``, else send it again
    under the same idempotency key (not in a ``dry_run``, which also rolls back instead of
    committing). Returns ``(status after, what was done)``. Raises :class:`GatewayDown` when
    Stripe cannot be reached.
    """
    refund = _reload(refund_id)
    payment = db.session.get(Payment, refund.payment_id)
    assert payment is not None
    intent_id = payment.stripe_payment_intent_id
    stripe_id = refund.stripe_refund_id
    db.session.rollback()
    if stripe_id:
        answer = gateway().retrieve_refund(stripe_id)
        cause = f"Stripe refund {stripe_id}"
    else:
        found = [
            r
            for r in (gateway().list_refunds(payment_intent=intent_id) if intent_id else [])
            if (r.get("metadata") or {}).get("refund_id") == refund_id
        ]
        if not found:
            if dry_run:
                return RefundStatus.PENDING.value, "would send it to Stripe again"
            try:
                refund = send_refund(refund, intent_id=intent_id, source=source)
            except Unprocessable:
                refund = _reload(refund_id)
            return refund.status, "sent to Stripe again"
        answer = found[0]
        cause = f"found at Stripe as {answer['id']}"
    statuses: list[str] = []

    def settle() -> None:
        settled = apply_stripe_refund(answer, source=source)
        statuses.append(settled.status if settled is not None else RefundStatus.PENDING.value)

    _settle(settle, dry_run=dry_run)
    return statuses[-1], cause
