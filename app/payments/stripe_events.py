"""Applying Stripe events to payments: the one path for webhooks and reconciliation.

:func:`handle_event` records the event id under a unique key and applies the event in the same
unit of work, so an event is applied at most once however often it is delivered or fetched.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import StripeEvent, utcnow
from .fulfilment import apply_checkout_session

log = logging.getLogger(__name__)

#: The event types this service acts on (also what reconciliation asks Stripe's Events API for).
HANDLED_TYPES = (
    "checkout.session.completed",
    "checkout.session.expired",
)


def _claim_event(event: dict[str, Any], source: str) -> bool:
    db.session.add(StripeEvent(id=event["id"], type=event["type"], source=source, created_at=utcnow()))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def handle_event(event: dict[str, Any], *, source: str) -> str:
    """Apply one Stripe ``event`` (a verified event object as a dict) exactly once.

    ``source`` is ``webhook`` or ``reconcile`` (written on the timeline). Commits. Returns what
    happened: ``"duplicate"`` (already processed), ``"ignored"`` (a type we do not act on, or an
    object that is not ours) or ``"processed"``. Exceptions propagate (nothing is committed), so
    the webhook answers 5xx and Stripe retries.
    """
    db.session.rollback()  # start from a clean unit of work
    if not _claim_event(event, source):
        log.info("stripe event %s (%s) already processed", event["id"], event["type"])
        return "duplicate"
    obj = event["data"]["object"]
    outcome = "processed"
    match event["type"]:
        case "checkout.session.completed" | "checkout.session.expired":
            if apply_checkout_session(obj, source=source, stripe_event_id=event["id"]) is None:
                outcome = "ignored"
        case _:
            log.info("stripe event %s of type %s ignored", event["id"], event["type"])
            outcome = "ignored"
    db.session.commit()
    return outcome
