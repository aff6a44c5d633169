"""Requeueing a merchant event: the outbox's resend (its write side is :mod:`app.merchant_events`)."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..merchant_events import new_message, subscribed_endpoints
from ..models import Event, EventDelivery, utcnow


def resend(event: Event) -> list[EventDelivery]:
    """Queue one more attempt of ``event`` to each enabled endpoint subscribed to it, now.

    An existing message is requeued under its own id (the ``webhook-id`` stays the same); an
    endpoint added since the event gets a new message. Commits and returns the queued messages.
    """
    now = utcnow()
    existing = {
        d.endpoint_id: d
        for d in db.session.scalars(sa.select(EventDelivery).where(EventDelivery.event_id == event.id))
    }
    queued = []
    for endpoint in subscribed_endpoints(event.merchant_id, event.type):
        delivery = existing.get(endpoint.id)
        if delivery is None:
            delivery = new_message(event, endpoint.id)
            db.session.add(delivery)
        else:
            delivery.status = "pending"
            delivery.next_attempt_at = now
            delivery.updated_at = now
        queued.append(delivery)
    db.session.commit()
    return queued
