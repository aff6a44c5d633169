"""Syncing a payment from Stripe: fetch the current Checkout Session, apply it, commit.

The one path by which the success page (:mod:`app.checkout`), expiring a payment
(:mod:`app.payments.expiry`), reconciliation (:mod:`app.payments.reconcile`) and the expiry sweep
(:mod:`app.scheduler`) bring a payment in line with Stripe. Stripe event processing
(:mod:`app.payments.stripe_events`) fetches and applies the same way, but commits together with
the event's claim, so that an event is applied at most once.

No transaction is open while Stripe is called (the gateway checks it, :mod:`app.db`), so the
caller ends its unit of work first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..extensions import db
from ..models import Payment
from ..stripe_gateway import gateway
from .fulfilment import apply_checkout_session


@dataclass
class Synced:
    """What :func:`sync_checkout_session` did: our ``payment`` (None when the session is not
    ours) and its ``status`` once the session was applied (read before a dry run rolls back)."""

    payment: Payment | None
    status: str | None


def sync_checkout_session(
    session_id: str,
    *,
    source: str,
    fetch: Callable[[str], dict[str, Any]] | None = None,
    dry_run: bool = False,
) -> Synced:
    """Fetch Checkout Session ``session_id`` from Stripe, apply it
    (:func:`~app.payments.fulfilment.apply_checkout_session`: forward-only, fulfils once) and
    commit (roll back in a ``dry_run``).

    ``fetch(session_id)`` is the Stripe call answering with the current session (default:
    retrieve it; expiring a payment passes the call that expires it). Raises what the gateway
    raises (:class:`~app.stripe_gateway.GatewayDown`, :class:`~app.stripe_gateway.GatewayRejected`),
    with nothing changed.
    """
    session = (fetch or gateway().retrieve_checkout_session)(session_id)
    payment = apply_checkout_session(session, source=source)
    status = payment.status if payment is not None else None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return Synced(payment, status)
