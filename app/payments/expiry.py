"""Expiring an open payment's Checkout Session at the merchant's request."""

from __future__ import annotations

from ..errors import Conflict, GatewayUnavailable
from ..extensions import db
from ..models import Payment
from ..stripe_gateway import GatewayDown, GatewayRejected, gateway
from .fulfilment import apply_checkout_session
from .states import PaymentStatus


def expire_payment(payment: Payment, *, source: str = "api") -> Payment:
    """Expire ``payment``'s Checkout Session and return the payment, now ``expired``.

    Raises :class:`Conflict` ``payment_not_expirable`` unless the payment is ``open`` (also
    when Stripe reports the session already completed: that outcome is applied instead), and
    :class:`GatewayUnavailable` when Stripe cannot be reached (nothing changes).
    """
    if payment.status != PaymentStatus.OPEN or not payment.stripe_checkout_session_id:
        raise _not_expirable(payment)
    session_id = payment.stripe_checkout_session_id
    db.session.commit()  # no transaction may stay open across the network call
    try:
        try:
            session = gateway().expire_checkout_session(session_id)
        except GatewayRejected:
            # Stripe only expires open sessions: learn what happened to it instead.
            session = gateway().retrieve_checkout_session(session_id)
    except GatewayDown as exc:
        raise GatewayUnavailable("Stripe could not be reached; nothing changed. Retry.") from exc
    apply_checkout_session(session, source=source)
    db.session.commit()
    if payment.status != PaymentStatus.EXPIRED:
        raise _not_expirable(payment)
    return payment


def _not_expirable(payment: Payment) -> Conflict:
    return Conflict(
        f"Only an open payment can be expired; this one is {payment.status}.",
        code="payment_not_expirable",
    )
