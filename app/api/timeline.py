"""``/api/v1/payments/<id>/timeline``: a payment's timeline, oldest first (also at the older
``/api/v1/payments/<id>/events``, deprecated: the merchant events are ``/api/v1/events``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response

from ..models import TimelineEntry
from ..payments.serializers import timeline_entry_to_dict
from ..responses import json_response
from . import bp
from .pagination import each, paginate
from .payments import get_payment_or_404


@bp.get("/payments/<payment_id>/timeline")
@bp.get("/payments/<payment_id>/events")
def payment_timeline(payment_id: str) -> Response:
    """The payment's whole history in the order it happened.

    A list object (:mod:`app.api.pagination`) of entries as ``timeline_entry_to_dict``
    describes (``payment.requested`` … ``refund.failed``, with source and Stripe ids), ordered
    by ``id``; ``limit`` defaults to 100 and the cursors are entry ids. 400 for a bad
    parameter, 404 for an unknown payment.
    """
    payment = get_payment_or_404(payment_id)
    query = sa.select(TimelineEntry).where(TimelineEntry.payment_id == payment.id)
    page = paginate(
        query,
        TimelineEntry,
        each(lambda entry: timeline_entry_to_dict(entry, livemode=payment.livemode)),
        order_by=("id",),
        descending=False,
        default_limit=100,
    )
    return json_response(200, page)
