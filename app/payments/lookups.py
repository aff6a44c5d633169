"""Finding our payment for a Stripe object: a Checkout Session or a PaymentIntent.

Both lookups refuse an object that names one of our payments but is not the one that payment
knows (another system's session, or a forged one): they return None and the caller ignores it.
"""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import Payment


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


def payment_for_intent(intent: dict[str, Any]) -> Payment | None:
    """Our payment for a PaymentIntent: its ``metadata.payment_id`` (we set it through
    ``payment_intent_data.metadata``), provided the payment knows no other intent."""
    payment_id = (intent.get("metadata") or {}).get("payment_id")
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None or payment.stripe_payment_intent_id not in (None, intent["id"]):
        return None
    return payment
