"""Expiring payments: an open payment's Checkout Session at the merchant's request, and the
worker's sweep of open payments whose session should have expired (:mod:`app.scheduler`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..db import unit_of_work
from ..errors import Conflict, GatewayUnavailable
from ..extensions import db
from ..models import Payment, utcnow
from ..stripe_gateway import GatewayDown, GatewayRejected, StripeGateway, StripeGateways
from .states import PaymentStatus, Source
from .sync import sync_checkout_session

log = logging.getLogger(__name__)


def expire_payment(payment: Payment, gateway: StripeGateway, *, source: str = Source.API) -> Payment:
    """Expire ``payment``'s Checkout Session through ``gateway`` (the account of the payment's
    mode) and return the payment, now ``expired``.

    Raises :class:`Conflict` ``payment_not_expirable`` unless the payment is ``open`` (also
    when Stripe reports the session already completed: that outcome is applied instead), and
    :class:`GatewayUnavailable` when Stripe cannot be reached (nothing changes).
    """
    with unit_of_work():  # ends the caller's read: no transaction may stay open across the network call
        if payment.status != PaymentStatus.OPEN or not payment.stripe_checkout_session_id:
            raise _not_expirable(payment)
        session_id = payment.stripe_checkout_session_id
    try:
        sync_checkout_session(session_id, gateway, source=source, fetch=_expire_or_retrieve(gateway))
    except GatewayDown as exc:
        raise GatewayUnavailable("Stripe could not be reached; nothing changed. Retry.") from exc
    if payment.status != PaymentStatus.EXPIRED:
        raise _not_expirable(payment)
    return payment


def _expire_or_retrieve(gateway: StripeGateway) -> Callable[[str], dict[str, Any]]:
    def fetch(session_id: str) -> dict[str, Any]:
        try:
            return gateway.expire_checkout_session(session_id)
        except GatewayRejected:
            # Stripe only expires open sessions: learn what happened to it instead.
            return gateway.retrieve_checkout_session(session_id)

    return fetch


def _not_expirable(payment: Payment) -> Conflict:
    return Conflict(
        f"Only an open payment can be expired; this one is {payment.status}.",
        code="payment_not_expirable",
    )


def sweep_expired_payments(gateways: StripeGateways) -> str:
    """Bring open payments whose Checkout Session should have expired in line with Stripe
    (the session's state is applied: expired, or paid after all), 100 at a time, longest overdue
    first, each through the account of its mode (``gateways.for_mode``).

    A session Stripe refuses to show (``GatewayRejected``: a 404 after test data was deleted on
    Stripe's side, a key of another account) is logged, counted as an error and skipped; the
    payment is left as it is, since a refusal says nothing about what the shopper did. Raises
    :class:`~app.stripe_gateway.GatewayDown` when Stripe cannot be reached (the run stops; the
    scheduler retries it). Returns a one-line summary for ``worker status``."""
    with unit_of_work():  # a short read, ended before Stripe is called
        overdue = db.session.execute(
            sa.select(Payment.id, Payment.stripe_checkout_session_id, Payment.livemode)
            .where(Payment.status == PaymentStatus.OPEN, Payment.expires_at < utcnow())
            .order_by(Payment.expires_at, Payment.id)
            .limit(100)
        ).all()
    errors = 0
    for payment_id, session_id, livemode in overdue:
        if session_id is None:
            continue
        try:
            sync_checkout_session(session_id, gateways.for_mode(livemode), source=Source.WORKER)
        except GatewayRejected as exc:  # one payment must not stop the sweep
            errors += 1
            log.warning("expiry sweep: %s: Stripe refused its Checkout Session: %s", payment_id, exc.code)
    errors_text = "1 error" if errors == 1 else f"{errors} errors"
    return f"expiry sweep: {len(overdue)} overdue payments checked, {errors_text}"
