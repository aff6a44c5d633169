"""``/api/v1/payments/<id>/refunds`` and ``/api/v1/refunds/<id>``: create, list and retrieve refunds."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, g, request

from ..errors import NotFound
from ..extensions import db
from ..models import Payment, Refund
from ..payments.refunds import create_refund
from ..payments.schemas import parse_refund_create
from ..payments.serializers import refund_to_dict
from ..responses import json_response
from . import bp
from .pagination import each, paginate
from .payments import get_payment_or_404, idempotent, json_body


@bp.post("/payments/<payment_id>/refunds")
def create_payment_refund(payment_id: str) -> Response:
    """Refund a succeeded or partially refunded payment; 201 with the refund object.

    Body (all optional): ``amount`` (minor units; default: what is left to refund),
    ``reason`` (``duplicate``, ``fraudulent``, ``requested_by_customer``), ``metadata``.
    Honours ``Idempotency-Key``. 400 ``parameter_invalid``; 404 ``resource_missing``;
    409 ``payment_not_refundable`` or ``refund_exceeds_amount``; 422 ``gateway_rejected``
    (the refund is ``failed``). The refund may come back ``pending`` (Stripe has not settled it,
    or could not be reached): webhooks or reconciliation settle it.
    """
    payment = get_payment_or_404(payment_id)
    parsed = parse_refund_create(json_body())

    def work() -> tuple[int, dict[str, Any]]:
        return 201, refund_to_dict(create_refund(payment, parsed, g.stripe_gateway, source="api"))

    return idempotent(work, body=request.get_data())


@bp.get("/payments/<payment_id>/refunds")
def list_payment_refunds(payment_id: str) -> Response:
    """The payment's refunds, newest first (the list parameters of :mod:`app.api.pagination`)."""
    payment = get_payment_or_404(payment_id)
    query = sa.select(Refund).where(Refund.payment_id == payment.id)
    return json_response(200, paginate(query, Refund, each(refund_to_dict)))


@bp.get("/refunds/<refund_id>")
def retrieve_refund(refund_id: str) -> Response:
    """One refund of the current merchant in the key's mode (another merchant's, or the other
    mode's, is a 404 like an unknown one)."""
    refund = db.session.get(Refund, refund_id)
    payment = db.session.get(Payment, refund.payment_id) if refund is not None else None
    if (
        refund is None
        or payment is None
        or (payment.merchant_id, payment.livemode) != (g.merchant.id, g.livemode)
    ):
        raise NotFound(f"No such refund: {refund_id!r}.", param="id")
    return json_response(200, refund_to_dict(refund))
