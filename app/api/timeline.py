"""``/api/v1/payments/<id>/events``: a payment's timeline, oldest first."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, request

from ..errors import InvalidRequest
from ..extensions import db
from ..models import PaymentEvent
from ..payments.schemas import parse_limit
from ..payments.serializers import timeline_entry_to_dict
from . import bp
from .idempotency import json_response
from .payments import get_payment_or_404


@bp.get("/payments/<payment_id>/events")
def payment_timeline(payment_id: str) -> Response:
    """The payment's whole history in the order it happened.

    ``{"object": "list", "data": [timeline entry, ...], "has_more": bool}``; each entry as
    ``timeline_entry_to_dict`` describes (``payment.requested`` … ``refund.failed``, with
    source and Stripe ids). ``limit`` 1–100 (default 100) and ``starting_after`` (an entry
    ``id``) page forward; 400 ``parameter_invalid`` for a bad one, 404 for an unknown payment.
    """
    payment = get_payment_or_404(payment_id)
    limit = parse_limit(request.args["limit"]) if "limit" in request.args else 100
    query = sa.select(PaymentEvent).where(PaymentEvent.payment_id == payment.id)
    if (cursor := request.args.get("starting_after")) is not None:
        if not (cursor.isascii() and cursor.isdigit()):
            raise InvalidRequest(f"No such entry: {cursor!r}.", param="starting_after")
        query = query.where(PaymentEvent.id > int(cursor))
    rows = db.session.scalars(query.order_by(PaymentEvent.id).limit(limit + 1)).all()
    return json_response(
        200,
        {
            "object": "list",
            "data": [timeline_entry_to_dict(row) for row in rows[:limit]],
            "has_more": len(rows) > limit,
        },
    )
