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

from ..extensions import db
from ..models import Payment, PaymentEvent, utcnow
from .payment_methods import details_from_charge
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


#: PaymentIntent statuses after which a completed-but-unpaid session can no longer be paid
#: (Stripe, "How PaymentIntents work": a failed delayed payment returns the intent to
#: ``requires_payment_method``; Checkout does not offer the shopper another try).
_INTENT_FAILED = frozenset({"requires_payment_method", "canceled"})

#: The payment's ``failure`` columns cleared (the payment succeeded after a decline).
_NO_FAILURE = {"failure_code": None, "failure_decline_code": None, "failure_message": None}


def failure_values(error: dict[str, Any] | None, default_code: str) -> dict[str, Any]:
    """The payment's ``failure`` columns from a Stripe error object (``last_payment_error``:
    ``{code, decline_code, message}``), or ``default_code`` when Stripe gave none."""
    error = error or {}
    return {
        "failure_code": (error.get("code") or default_code)[:64],
        "failure_decline_code": (error.get("decline_code") or None) and error["decline_code"][:64],
        "failure_message": (error.get("message") or None) and error["message"][:500],
    }


def _charge_failure(intent: dict[str, Any]) -> dict[str, Any] | None:
    """A failed charge's ``failure_code`` / ``failure_message`` as an error object, if expanded."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict) and charge.get("status") == "failed":
        outcome = charge.get("outcome") or {}
        return {
            "code": charge.get("failure_code"),
            "decline_code": outcome.get("reason") if outcome.get("type") == "issuer_declined" else None,
            "message": charge.get("failure_message"),
        }
    return None


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

    - ``complete`` and ``paid`` (or ``no_payment_required``): after checking that the
      session's ``amount_total`` and ``currency`` match ours, move to ``succeeded`` setting
      ``paid_at``, ``fulfilled_at`` and ``payment_method_details`` (what paid, from the
      expanded latest charge), clearing ``failure`` (Stripe clears the intent's
      ``last_payment_error`` on success), and record ``payment.fulfilled`` — once. A mismatch
      is recorded as ``payment.amount_mismatch`` and nothing is fulfilled.
    - ``complete`` and ``unpaid`` (a delayed payment method such as a US bank debit, Stripe's
      "Fulfill orders: delayed notification payment methods"):

      - the PaymentIntent is back in ``requires_payment_method`` / ``canceled`` (the debit
        failed: ``checkout.session.async_payment_failed``), or, unexpanded, the event is
        ``async_payment_failed``: move to ``failed`` with ``failure`` from the intent's
        ``last_payment_error`` (else the failed charge, else ``payment_failed``);
      - otherwise move to ``processing`` (no fulfilment yet).
    - ``expired``: move to ``expired``.

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
    ids = {"stripe_checkout_session_id": session["id"]}
    intent_id = _payment_intent_id(session)
    if intent_id:
        ids["stripe_payment_intent_id"] = intent_id
    common = {"source": source, "stripe_event_id": stripe_event_id, "stripe_object_id": session["id"]}
    if session.get("status") == "complete":
        _store_customer_email(payment, session)

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
        paid = {"paid_at": now, "fulfilled_at": now, "payment_method_details": _method_details(session)}
        if move(payment, PaymentStatus.SUCCEEDED, values={**ids, **_NO_FAILURE, **paid}, **common):
            record(payment, "payment.fulfilled", **common)
    elif session.get("status") == "complete":
        intent = session.get("payment_intent")
        if isinstance(intent, dict):
            failed = intent.get("status") in _INTENT_FAILED
            error = intent.get("last_payment_error") or _charge_failure(intent)
        else:
            failed = event_type == "checkout.session.async_payment_failed"
            error = None
        if failed:
            failure = failure_values(error, "payment_failed")
            move(
                payment,
                PaymentStatus.FAILED,
                values={**ids, **failure},
                data=_failure_data(failure),
                **common,
            )
        else:
            move(payment, PaymentStatus.PROCESSING, values=ids, **common)
    elif session.get("status") == "expired":
        move(payment, PaymentStatus.EXPIRED, values=ids, **common)
    return payment


def _method_details(session: dict[str, Any]) -> dict[str, Any] | None:
    """What the shopper paid with, from the expanded PaymentIntent's latest charge (None when
    the session was not retrieved with ``payment_intent.latest_charge`` expanded)."""
    intent = session.get("payment_intent")
    return details_from_charge(intent.get("latest_charge")) if isinstance(intent, dict) else None


def _store_customer_email(payment: Payment, session: dict[str, Any]) -> None:
    """Keep the email the shopper typed on Stripe's page (the session's
    ``customer_details.email``) when the merchant gave no ``customer_email``: a conditional
    UPDATE, so the merchant's address and an earlier copy are never overwritten."""
    email = (session.get("customer_details") or {}).get("email")
    if not isinstance(email, str) or not email or len(email) > 254:
        return
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.customer_email.is_(None))
        .values(customer_email=email)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)


def _failure_data(failure: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": failure["failure_code"],
        "decline_code": failure["failure_decline_code"],
        "message": failure["failure_message"],
    }


def payment_for_intent(intent: dict[str, Any]) -> Payment | None:
    """Our payment for a PaymentIntent: its ``metadata.payment_id`` (we set it through
    ``payment_intent_data.metadata``), provided the payment knows no other intent."""
    payment_id = (intent.get("metadata") or {}).get("payment_id")
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None or payment.stripe_payment_intent_id not in (None, intent["id"]):
        return None
    return payment


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
    error = intent.get("last_payment_error") or {}
    charge = intent.get("latest_charge")
    data = {
        "code": error.get("code"),
        "decline_code": error.get("decline_code"),
        "message": error.get("message"),
        "type": error.get("type"),
        "charge": charge.get("id") if isinstance(charge, dict) else charge,
        "stripe_created": created,
    }
    earlier = db.session.scalars(
        sa.select(PaymentEvent.data).where(
            PaymentEvent.payment_id == payment.id, PaymentEvent.type == "payment.failed_attempt"
        )
    ).all()
    newest = max(((entry or {}).get("stripe_created") or 0 for entry in earlier), default=0)
    record(
        payment,
        "payment.failed_attempt",
        source=source,
        stripe_event_id=stripe_event_id,
        stripe_object_id=intent["id"],
        data=data,
    )
    if (created or 0) >= newest:
        db.session.execute(
            sa.update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.OPEN, PaymentStatus.PROCESSING]),
            )
            .values(
                **failure_values(error, "payment_failed"),
                stripe_payment_intent_id=intent["id"],
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(payment)
    return payment
