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
from .models import Delivery, MerchantEvent, Payment, Refund, WebhookEndpoint, new_id, utcnow

#: The version of the API's object shapes, dated as Stripe's are; every event names the one its
#: ``data`` was rendered with (``MerchantEvent.api_version``). Change it when a shape changes.
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
) -> MerchantEvent:
    """Add the merchant event ``event_type`` (one of :data:`EVENT_TYPES`) about ``payment`` (and
    ``refund``) with ``data`` (the payment or refund object as the API returns it), in the
    payment's mode, plus one pending message per enabled endpoint of that mode subscribed to
    the type. ``previous`` is that object as
    it was before the change: what changed is kept as the event's ``previous_attributes``, as in
    Stripe's events. Does not commit. Raises ``ValueError`` for a type merchants are not told of."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type} is not a merchant event type")
    event = MerchantEvent(
        id=new_id("evt"),
        merchant_id=payment.merchant_id,
        type=event_type,
        payment_id=payment.id,
        refund_id=refund.id if refund is not None else None,
        data=data,
        previous_attributes=changed_attributes(previous, data),
        api_version=API_VERSION,
        created_at=utcnow(),
        livemode=payment.livemode,
    )
    db.session.add(event)
    for endpoint in subscribed_endpoints(payment.merchant_id, event_type, payment.livemode):
        db.session.add(new_message(event, endpoint.id))
    return event


def new_message(event: MerchantEvent, endpoint_id: str) -> Delivery:
    """A pending message of ``event`` to endpoint ``endpoint_id``, due now (not added to the session)."""
    now = utcnow()
    return Delivery(
        id=new_id("msg"),
        event_id=event.id,
        endpoint_id=endpoint_id,
        status="pending",
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def subscribed_endpoints(merchant_id: str, event_type: str, livemode: bool) -> list[WebhookEndpoint]:
    """The merchant's enabled endpoints of mode ``livemode`` whose ``enabled_events`` include
    ``event_type`` or ``*``: test events never reach live endpoints, nor live events test ones."""
    endpoints = db.session.scalars(
        sa.select(WebhookEndpoint)
        .where(
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.livemode == livemode,
            WebhookEndpoint.status == "enabled",
        )
        .order_by(WebhookEndpoint.created_at)
    ).all()
    return [e for e in endpoints if "*" in e.enabled_events or event_type in e.enabled_events]
