"""Applying a Checkout Session's state to our payment: the one path to fulfilment.

The success page, the webhook and reconciliation all call :func:`apply_checkout_session` with
a session object fetched from (or signed by) Stripe; whichever comes first wins and the others
are no-ops. This is what Stripe's "Fulfill orders" guide asks for: fulfil from the webhook and
the redirect alike, exactly once.
"""

from __future__ import annotations

import logging
from typing import Any

from ..extensions import db
from ..models import Payment, utcnow
from .states import PaymentStatus
from .transitions import move, record

log = logging.getLogger(__name__)


def payment_for_session(session: dict[str, Any]) -> Payment | None:
    """Our payment for a Checkout Session, or None if the session is not ours.

    We create sessions with ``client_reference_id`` = our payment id; a session whose id
    differs from the one we stored belongs to someone else (or is forged) and is ignored.
    """
    payment_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("payment_id")
    if not payment_id:
        return None
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        return None
    if payment.stripe_checkout_session_id not in (None, session["id"]):
        return None
    return payment


def _payment_intent_id(session: dict[str, Any]) -> str | None:
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        return intent.get("id")
    return intent


def apply_checkout_session(
    session: dict[str, Any], *, source: str, stripe_event_id: str | None = None
) -> Payment | None:
    """Bring our payment in line with ``session`` (a Stripe Checkout Session as a dict).

    - ``complete`` and ``paid`` (or ``no_payment_required``): after checking that the
      session's ``amount_total`` and ``currency`` match ours, move to ``succeeded`` setting
      ``paid_at`` and ``fulfilled_at``, and record ``payment.fulfilled`` — once. A mismatch
      is recorded as ``payment.amount_mismatch`` and nothing is fulfilled.
    - ``complete`` and ``unpaid`` (a delayed payment method): move to ``processing``.
    - ``expired``: move to ``expired``.

    Works inside the caller's unit of work (does not commit). Returns the payment, or None
    when the session is not ours.
    """
    payment = payment_for_session(session)
    if payment is None:
        log.info("checkout session %s is not ours; ignored", session.get("id"))
        return None
    ids = {"stripe_checkout_session_id": session["id"]}
    intent_id = _payment_intent_id(session)
    if intent_id:
        ids["stripe_payment_intent_id"] = intent_id
    common = {"source": source, "stripe_event_id": stripe_event_id, "stripe_object_id": session["id"]}

    if session.get("status") == "complete" and session.get("payment_status") in (
        "paid",
        "no_payment_required",
    ):
        if session.get("amount_total") != payment.amount_total or session.get("currency") != payment.currency:
            record(
                payment,
                "payment.amount_mismatch",
                data={
                    "expected": {"amount_total": payment.amount_total, "currency": payment.currency},
                    "received": {
                        "amount_total": session.get("amount_total"),
                        "currency": session.get("currency"),
                    },
                },
                **common,
            )
            log.error(
                "payment %s: session %s amount/currency mismatch; not fulfilled", payment.id, session["id"]
            )
            return payment
        now = utcnow()
        if move(
            payment, PaymentStatus.SUCCEEDED, values={**ids, "paid_at": now, "fulfilled_at": now}, **common
        ):
            record(payment, "payment.fulfilled", **common)
    elif session.get("status") == "complete":
        move(payment, PaymentStatus.PROCESSING, values=ids, **common)
    elif session.get("status") == "expired":
        move(payment, PaymentStatus.EXPIRED, values=ids, **common)
    return payment
