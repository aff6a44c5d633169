"""Requesting a refund: reserve the amount in the database, ask Stripe, settle from its word — once.

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
3. Settle the refund from Stripe's answer
   (:func:`~app.payments.refund_settlement.apply_stripe_refund`, the one settling path).

A refund still ``pending`` later is reconciled by :func:`app.payments.reconcile.refresh_refund`.

Amounts are integers in the payment currency's minor unit, exactly as Stripe takes them (yen for
``jpy``: zero-decimal amounts are not multiplied; three-decimal amounts must end in 0).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from ..db import retry_on_lock_conflict, unit_of_work
from ..errors import Conflict, InvalidRequest, Unprocessable
from ..extensions import db
from ..models import Payment, Refund
from ..stripe_gateway import GatewayDown, GatewayRejected, StripeGateway
from .currencies import amount_step, format_amount
from .decisions import session_intent_id
from .refund_settlement import (
    add_pending_refund,
    apply_stripe_refund,
    fail_refund,
    reload_refund,
    run_settlement,
)
from .schemas import RefundCreate
from .states import REFUND_RESERVING, REFUNDABLE, Source
from .transitions import lock_payment

log = logging.getLogger(__name__)


def stripe_idempotency_key(refund_id: str) -> str:
    """The Stripe idempotency key of our refund ``refund_id``: ``refund-<refund id>``."""
    return f"refund-{refund_id}"


def create_refund(
    payment: Payment, request: RefundCreate, gateway: StripeGateway, *, source: str = Source.API
) -> Refund:
    """Refund ``request.amount`` (default: all that is not yet refunded or being refunded) of
    ``payment`` through ``gateway`` (the account of the payment's mode) and return the refund,
    settled as far as Stripe's answer allows.

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
    intent_id = _payment_intent_of(payment, gateway)

    # 1. Reserve the amount under the payment's row lock; commit (once more on a lost lock conflict).
    refund = retry_on_lock_conflict(lambda: _reserve(payment_id, request, source))
    return send_refund(refund, gateway, intent_id=intent_id, source=source)


def _reserve(payment_id: str, request: RefundCreate, source: str) -> Refund:
    """Step 1 of :func:`create_refund`, one unit of work at READ COMMITTED: lock the payment row
    first, check, add the ``pending`` refund, commit.

    The refunds are read with a *plain* read at READ COMMITTED: every writer of a payment's
    refunds holds the payment's row lock, which already serialises them, so the read sees every
    refund committed before the lock was granted. A locking read here
    (``SELECT … FROM refunds WHERE payment_id = ? FOR UPDATE``) would take gap locks on the
    secondary index, and the ``INSERT`` that follows would then deadlock (MariaDB 1213) with a
    concurrent refund of a *neighbouring* payment.
    """
    with unit_of_work(read_committed=True):  # a refusal below raises: the unit rolls back
        locked = lock_payment(payment_id)
        if locked.status not in REFUNDABLE:
            raise Conflict(
                "Only a succeeded or partially refunded payment can be refunded; "
                f"this one is {locked.status}.",
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
            raise Conflict(
                f"The refund would exceed the payment: {format_amount(max(remaining, 0), locked.currency)} "
                "is left to refund.",
                code="refund_exceeds_amount",
                param="amount",
                amount_refundable=max(remaining, 0),
            )
        refund = add_pending_refund(
            locked,
            amount=amount,
            currency=locked.currency,
            reason=request.reason,
            metadata=dict(request.metadata),
            source=source,
        )
    return refund


def send_refund(refund: Refund, gateway: StripeGateway, *, intent_id: str | None, source: str) -> Refund:
    """Ask Stripe (``gateway``: the account of the payment's mode) for a ``pending`` refund not
    known to Stripe yet, then settle it.

    Safe to repeat: the idempotency key ``refund-<id>`` makes Stripe answer with the same
    refund. No transaction is open during the call. Stripe refusing (4xx other than an
    idempotency conflict) fails the refund and raises :class:`Unprocessable`
    ``gateway_rejected``; Stripe unreachable leaves it ``pending``.
    """
    with unit_of_work():  # ends the caller's read: no transaction may stay open across the network call
        refund_id = refund.id
        params: dict[str, Any] = {
            "amount": refund.amount,
            "metadata": {"refund_id": refund.id, "payment_id": refund.payment_id},
        }
        if intent_id:
            params["payment_intent"] = intent_id
        if refund.reason:
            params["reason"] = refund.reason
    try:
        answer = gateway.create_refund(params, idempotency_key=stripe_idempotency_key(refund_id))
    except GatewayDown:
        log.warning("refund %s: Stripe unreachable; stays pending for reconciliation", refund_id)
        return reload_refund(refund_id)
    except GatewayRejected as exc:
        if exc.error_type == "idempotency_error":  # the same request is still running elsewhere
            log.warning("refund %s: %s; stays pending", refund_id, exc.message)
            return reload_refund(refund_id)
        reason = exc.code or "gateway_rejected"
        run_settlement(lambda: fail_refund(refund_id, reason=reason, source=source))
        raise Unprocessable(
            f"Stripe refused the refund: {exc.message}", code="gateway_rejected", refund_id=refund_id
        ) from exc
    run_settlement(lambda: apply_stripe_refund(answer, source=source))
    return reload_refund(refund_id)


def _payment_intent_of(payment: Payment, gateway: StripeGateway) -> str | None:
    """The payment's PaymentIntent id, asking Stripe for the session's when we lack it."""
    if payment.stripe_payment_intent_id or not payment.stripe_checkout_session_id:
        return payment.stripe_payment_intent_id
    with unit_of_work():  # ends the caller's read before Stripe is called
        session_id = payment.stripe_checkout_session_id
    try:
        session = gateway.retrieve_checkout_session(session_id)
    except (GatewayDown, GatewayRejected):
        return None
    return session_intent_id(session)
