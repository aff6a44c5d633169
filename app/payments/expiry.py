"""Expiring an open payment's Checkout Session at the merchant's request."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, GatewayUnavailable
from ..extensions import db
from ..models import Payment
from ..stripe_gateway import GatewayDown, GatewayRejected, gateway
from .states import PaymentStatus, Source
from .sync import sync_checkout_session


def expire_payment(payment: Payment, *, source: str = Source.API) -> Payment:
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
        sync_checkout_session(session_id, source=source, fetch=_expire_or_retrieve)
    except GatewayDown as exc:
        raise GatewayUnavailable("Stripe could not be reached; nothing changed. Retry.") from exc
    if payment.status != PaymentStatus.EXPIRED:
        raise _not_expirable(payment)
    return payment


def _expire_or_retrieve(session_id: str) -> dict[str, Any]:
    try:
        return gateway().expire_checkout_session(session_id)
    except GatewayRejected:
        # Stripe only expires open sessions: learn what happened to it instead.
        return gateway().retrieve_checkout_session(session_id)


def _not_expirable(payment: Payment) -> Conflict:
    return Conflict(
        f"Only an open payment can be expired; this one is {payment.status}.",
        code="payment_not_expirable",
    )
