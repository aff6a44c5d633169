"""The transactional outbox: a merchant event and its messages, written with the change itself.

:func:`emit` only adds rows to the caller's unit of work, so the event commits exactly when the
state change does, and a rolled-back change leaves no event and sends nothing. The worker
(:mod:`app.notifications.worker`) sends the messages after the commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import Event, EventDelivery, Payment, Refund, new_id, utcnow
from ..payments.schemas import EVENT_TYPES
from ..payments.serializers import payment_to_dict, refund_to_dict
from .endpoints import subscribed_endpoints
from .serializers import API_VERSION


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
    refund: Refund | None = None,
    previous: dict[str, Any] | None = None,
) -> Event | None:
    """Add the merchant event for a timeline entry of ``event_type``, if merchants are told of it.

    Types in ``EVENT_TYPES`` (``payment.succeeded``, ``…processing``, ``…failed``, ``…expired``,
    ``refund.succeeded``, ``refund.failed``) produce an event whose object is
    ``payment_to_dict(payment)`` or, for ``refund.*``, ``refund_to_dict(refund)``, plus one
    pending message per enabled endpoint subscribed to the type. ``previous`` is that object
    as it was before the change (serialized the same way): the event keeps what changed as its
    ``previous_attributes``. Other types return None. Does not commit. Raises ``ValueError``
    for a ``refund.*`` type without ``refund``.
    """
    if event_type not in EVENT_TYPES:
        return None
    if event_type.startswith("refund."):
        if refund is None:
            raise ValueError(f"{event_type} needs the refund")
        data = refund_to_dict(refund)
    else:
        data = payment_to_dict(payment)
    now = utcnow()
    event = Event(
        id=new_id("evt"),
        merchant_id=payment.merchant_id,
        type=event_type,
        payment_id=payment.id,
        refund_id=refund.id if refund is not None else None,
        data=data,
        previous_attributes=changed_attributes(previous, data),
        api_version=API_VERSION,
        created_at=now,
    )
    db.session.add(event)
    for endpoint in subscribed_endpoints(payment.merchant_id, event_type):
        db.session.add(_message(event, endpoint.id))
    return event


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
            delivery = _message(event, endpoint.id)
            db.session.add(delivery)
        else:
            delivery.status = "pending"
            delivery.next_attempt_at = now
            delivery.updated_at = now
        queued.append(delivery)
    db.session.commit()
    return queued


def _message(event: Event, endpoint_id: str) -> EventDelivery:
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
