"""Syncing a payment from Stripe: fetch the current Checkout Session, apply it, commit.

The one path by which the success page (:mod:`app.checkout`), expiring a payment
(:mod:`app.payments.expiry`), reconciliation (:mod:`app.payments.reconcile`) and the expiry sweep
(:mod:`app.payments.expiry`) bring a payment in line with Stripe. Stripe event processing
(:mod:`app.payments.stripe_events`) fetches and applies the same way, but commits together with
the event's claim, so that an event is applied at most once.

No transaction is open while Stripe is called (the gateway checks it, :mod:`app.db`), so the
caller ends its unit of work first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..db import unit_of_work
from ..extensions import db
from ..models import Payment
from ..stripe_gateway import StripeGateway
from .fulfilment import apply_checkout_session


@dataclass
class Synced:
    """What :func:`sync_checkout_session` did: our ``payment`` (None when the session is not
    ours) and its ``status`` once the session was applied (read before a dry run rolls back)."""

    payment: Payment | None
    status: str | None


def session_livemode(session_id: str) -> bool:
    """The mode of our payment whose Checkout Session is ``session_id``: the account to ask about
    it. A session we do not know is asked of the live account (as before test mode). Ends its
    short read, so no transaction is open for the Stripe call that follows."""
    with unit_of_work():
        livemode = db.session.scalar(
            sa.select(Payment.livemode).where(Payment.stripe_checkout_session_id == session_id)
        )
    return livemode is not False


def sync_checkout_session(
    session_id: str,
    gateway: StripeGateway,
    *,
    source: str,
    fetch: Callable[[str], dict[str, Any]] | None = None,
    dry_run: bool = False,
) -> Synced:
    """Fetch Checkout Session ``session_id`` from Stripe through ``gateway`` (the account
    of the payment's mode), apply it
    (:func:`~app.payments.fulfilment.apply_checkout_session`: forward-only, fulfils once) and
    commit (roll back in a ``dry_run``), in a unit of work begun after the fetch.

    ``fetch(session_id)`` is the Stripe call answering with the current session (default:
    retrieve it; expiring a payment passes the call that expires it). Raises what the gateway
    raises (:class:`~app.stripe_gateway.GatewayDown`, :class:`~app.stripe_gateway.GatewayRejected`),
    with nothing changed.
    """
    session = (fetch or gateway.retrieve_checkout_session)(session_id)
    with unit_of_work(dry_run=dry_run):
        payment = apply_checkout_session(session, source=source)
        status = payment.status if payment is not None else None
    return Synced(payment, status)
