"""``/api/v1/events``: the merchant's events (to catch up without webhooks), their deliveries,
and resending one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, g, request

from ..db import unit_of_work
from ..errors import InvalidRequest, NotFound
from ..extensions import db
from ..merchant_events import EVENT_TYPES
from ..models import Delivery, DeliveryAttempt, MerchantEvent
from ..notifications.outbox import resend
from ..notifications.serializers import delivery_to_dict, event_to_dict
from ..responses import json_response
from . import bp
from .pagination import each, paginate
from .payments import idempotent


def get_event_or_404(event_id: str) -> MerchantEvent:
    """The current merchant's event ``event_id`` in the key's mode; another merchant's, or the
    other mode's, is a 404 like an unknown one."""
    event = db.session.get(MerchantEvent, event_id)
    if event is None or event.merchant_id != g.merchant.id or event.livemode != g.livemode:
        raise NotFound(f"No such event: {event_id!r}.", param="id")
    return event


def _deliveries(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """The messages as objects, each with its attempts (loaded in one query)."""
    ids = [d.id for d in deliveries]
    attempts = db.session.scalars(
        sa.select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(ids))
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    ).all()
    by_delivery: dict[str, list[DeliveryAttempt]] = {i: [] for i in ids}
    for attempt in attempts:
        by_delivery[attempt.delivery_id].append(attempt)
    return [delivery_to_dict(d, by_delivery[d.id]) for d in deliveries]


@bp.get("/events")
def list_events() -> Response:
    """The merchant's events, newest first: ``type`` and the list parameters (:mod:`app.api.pagination`)."""
    query = sa.select(MerchantEvent).where(
        MerchantEvent.merchant_id == g.merchant.id, MerchantEvent.livemode == g.livemode
    )
    if (event_type := request.args.get("type")) is not None:
        if event_type not in EVENT_TYPES:
            raise InvalidRequest(f"Unknown event type {event_type!r}.", param="type")
        query = query.where(MerchantEvent.type == event_type)
    return json_response(200, paginate(query, MerchantEvent, each(event_to_dict), filters=("type",)))


@bp.get("/events/<event_id>")
def retrieve_event(event_id: str) -> Response:
    """One event of the current merchant."""
    return json_response(200, event_to_dict(get_event_or_404(event_id)))


@bp.get("/events/<event_id>/deliveries")
def event_deliveries(event_id: str) -> Response:
    """The event's messages (one per endpoint; ``id`` is the ``webhook-id``) with every attempt,
    newest first, paged like every list (:mod:`app.api.pagination`)."""
    event = get_event_or_404(event_id)
    query = sa.select(Delivery).where(Delivery.event_id == event.id)
    return json_response(200, paginate(query, Delivery, _deliveries))


@bp.post("/events/<event_id>/resend")
def resend_event(event_id: str) -> Response:
    """Queue one more attempt to each enabled subscribed endpoint; 202 with the queued messages."""
    event = get_event_or_404(event_id)

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            queued = resend(event)
        return 202, {"object": "list", "url": request.path, "data": _deliveries(queued), "has_more": False}

    return idempotent(work)
