"""The outbox's resend and its counts (its write side is :mod:`app.merchant_events`)."""

from __future__ import annotations

import sqlalchemy as sa

from ..db import unit_of_work
from ..extensions import db
from ..merchant_events import new_message, subscribed_endpoints
from ..models import DELIVERY_STATUSES, Delivery, MerchantEvent, utcnow


def resend(event: MerchantEvent) -> list[Delivery]:
    """Queue one more attempt of ``event`` to each enabled endpoint subscribed to it, now.

    An existing message is requeued under its own id (the ``webhook-id`` stays the same); an
    endpoint added since the event gets a new message. Adds them to the caller's unit of work
    (:func:`app.db.unit_of_work`) and returns them.
    """
    now = utcnow()
    existing = {
        d.endpoint_id: d for d in db.session.scalars(sa.select(Delivery).where(Delivery.event_id == event.id))
    }
    queued = []
    for endpoint in subscribed_endpoints(event.merchant_id, event.type, event.livemode):
        delivery = existing.get(endpoint.id)
        if delivery is None:
            delivery = new_message(event, endpoint.id)
            db.session.add(delivery)
        else:
            delivery.status = "pending"
            delivery.next_attempt_at = now
            delivery.updated_at = now
        queued.append(delivery)
    return queued


def status_counts() -> dict[str, int]:
    """Messages per status: ``{"pending": n, "retrying": n, "succeeded": n, "failed": n}``.

    A read in a unit of work of its own, ended at once (so a caller polling it sees each new
    commit); not to be called inside another one (:class:`app.db.NestedUnitOfWork`)."""
    with unit_of_work():
        rows = db.session.execute(sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)).all()
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    counts.update({status: int(count) for status, count in rows})
    return counts
