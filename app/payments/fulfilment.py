"""Applying a Checkout Session's state to our payment: the one path to fulfilment.

The success page, the webhook and reconciliation all call :func:`apply_checkout_session` with
a session object fetched from (or signed by) Stripe; whichever comes first wins and the others
are no-ops. This is what Stripe's "Fulfill orders" guide asks for: fulfil from the webhook and
the redirect alike, exactly once.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from ..db import read_back
from ..extensions import db
from ..models import Payment, utcnow
from .decisions import Outcome, decide_session, session_email
from .lookups import payment_for_session
from .transitions import MoveOutcome, move, record

log = logging.getLogger(__name__)


def apply_checkout_session(
    session: dict[str, Any],
    *,
    source: str,
    stripe_event_id: str | None = None,
    event_type: str | None = None,
) -> Payment | None:
    """Bring our payment in line with ``session`` (a Stripe Checkout Session as a dict).

    ``session`` should be current (retrieved from Stripe, ideally with
    ``payment_intent.latest_charge`` expanded); ``event_type`` is the Stripe event that
    prompted the call, used only when the PaymentIntent is not expanded.

    What the session means is decided by :func:`~app.payments.decisions.decide_session`
    (``succeeded`` and ``payment.fulfilled`` once for a paid session of our amount and currency,
    ``payment.amount_mismatch`` otherwise; ``processing`` or ``failed`` for a complete but unpaid
    one; ``expired``); this function applies it with :func:`~app.payments.transitions.move`.

    A ``complete`` session also gives the payment the shopper's email
    (``customer_details.email``) when the merchant did not send ``customer_email``.

    Moves only go forward (:mod:`app.payments.states`), so a stale or repeated session changes
    nothing. Works inside the caller's unit of work (does not commit). Returns the payment, or
    None when the session is not ours.
    """
    payment = payment_for_session(session)
    if payment is None:
        # The session id is a bearer credential for the hosted page: it is never logged.
        log.info("a Checkout Session that is not ours was ignored")
        return None
    common = {"source": source, "stripe_event_id": stripe_event_id, "stripe_object_id": session["id"]}
    if session_email(session, payment.customer_email) is not None:
        _store_customer_email(payment, session)
    decision = decide_session(
        session,
        status=payment.status,
        amount_total=payment.amount_total,
        currency=payment.currency,
        now=utcnow(),
        event_type=event_type,
    )
    if decision.outcome is Outcome.MISMATCH:
        record(payment, "payment.amount_mismatch", data=decision.mismatch, **common)
        log.error("payment %s: session %s amount/currency mismatch; not fulfilled", payment.id, session["id"])
    elif decision.target is not None:
        # Also when the decision says duplicate or stale: the compare-and-set is the arbiter
        # against the row (the loaded object may lag it) and brings the object up to date.
        moved = move(payment, decision.target, values=decision.values, data=decision.data, **common)
        if moved is MoveOutcome.MOVED and decision.fulfil:
            record(payment, "payment.fulfilled", **common)
    return payment


def _store_customer_email(payment: Payment, session: dict[str, Any]) -> None:
    """Keep the email the shopper typed on Stripe's page (:func:`~app.payments.decisions.session_email`):
    a conditional UPDATE, so the merchant's address and an earlier copy are never overwritten."""
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.customer_email.is_(None))
        .values(customer_email=session_email(session, None))
        .execution_options(synchronize_session=False)
    )
    read_back(payment)
