"""Merchant events: the write side of the transactional outbox, shared by payments and notifications.

The import graph runs one way: :mod:`app.payments` writes merchant events through this module and
never imports :mod:`app.notifications`; :mod:`app.notifications` sends and requeues them (and may
read payments); this module imports neither (tests/unit/test_import_graph.py checks it).

:func:`emit` only adds rows to the caller's unit of work, so the event commits exactly when the
state change does, and a rolled-back change leaves no event and sends nothing. The worker
(:mod:`app.notifications.worker`) sends the messages after the commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .extensions import db
from .models import Event, EventDelivery, Payment, Refund, WebhookEndpoint, new_id, utcnow

#: The version of the API's object shapes, dated as Stripe's are; every event names the one its
#: ``data`` was rendered with (``Event.api_version``). Change it when a shape changes.
API_VERSION = "2026-11-21"

#: Event types merchants are told of, and a webhook endpoint can subscribe to (``"*"``: all).
EVENT_TYPES = (
    "payment.succeeded",
    "payment.processing",
    "payment.failed",
    "payment.expired",
    "refund.succeeded",
    "refund.failed",
)


def changed_attributes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any] | None:
    """The top-level members of ``after`` whose value differs in ``before``, with their values
    in ``before`` (Stripe's ``previous_attributes``); None without ``before`` or any change."""
    if before is None:
        return None
    changed = {key: before.get(key) for key, value in after.items() if before.get(key) != value}
    return changed or None


def emit(
    event_type: str,
    payment: Payment,
    refund: Refund | None,
    data: dict[str, Any],
    *,
    previous: dict[str, Any] | None = None,
) -> Event:
    """Add the merchant event ``event_type`` (one of :data:`EVENT_TYPES`) about ``payment`` (and
    ``refund``) with ``data`` (the payment or refund object as the API returns it), plus one
    pending message per enabled endpoint subscribed to the type. ``previous`` is that object as
    it was before the change: what changed is kept as the event's ``previous_attributes``, as in
    Stripe's events. Does not commit. Raises ``ValueError`` for a type merchants are not told of."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type} is not a merchant event type")
    event = Event(
        id=new_id("evt"),
        merchant_id=payment.merchant_id,
        type=event_type,
        payment_id=payment.id,
        refund_id=refund.id if refund is not None else None,
        data=data,
        previous_attributes=changed_attributes(previous, data),
        api_version=API_VERSION,
        created_at=utcnow(),
    )
    db.session.add(event)
    for endpoint in subscribed_endpoints(payment.merchant_id, event_type):
        db.session.add(new_message(event, endpoint.id))
    return event


def new_message(event: Event, endpoint_id: str) -> EventDelivery:
    """A pending message of ``event`` to endpoint ``endpoint_id``, due now (not added to the session)."""
    now = utcnow()
    return EventDelivery(
        id=new_id("msg"),
        event_id=event.id,
        endpoint_id=endpoint_id,
        status="pending",
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def subscribed_endpoints(merchant_id: str, event_type: str) -> list[WebhookEndpoint]:
    """The merchant's enabled endpoints whose ``enabled_events`` include ``event_type`` or ``*``."""
    endpoints = db.session.scalars(
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.status == "enabled")
        .order_by(WebhookEndpoint.created_at)
    ).all()
    return [e for e in endpoints if "*" in e.enabled_events or event_type in e.enabled_events]
