"""``/api/v1/payments``: create, retrieve, update (metadata), list and expire payments."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, request

from ..db import unit_of_work
from ..errors import InvalidRequest, NotFound
from ..extensions import db
from ..models import Payment, utcnow
from ..payments.creation import create_payment
from ..payments.expiry import expire_payment
from ..payments.schemas import parse_payment_create, parse_payment_update
from ..payments.serializers import payment_to_dict
from ..payments.states import PaymentStatus
from ..payments.transitions import lock_payment
from ..request_bodies import decode_json_body
from ..responses import json_response
from . import bp
from .idempotency import ReplayHook, fingerprint, run_idempotent
from .pagination import each, paginate


def public_base_url() -> str:
    """Our external address: ``PUBLIC_BASE_URL``, else the address this request came to."""
    return current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")


def get_payment_or_404(payment_id: str) -> Payment:
    """The current merchant's payment ``payment_id`` in the API key's mode; another merchant's,
    or the other mode's, is a 404 like an unknown one."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.merchant_id != g.merchant.id or payment.livemode != g.livemode:
        raise NotFound(f"No such payment: {payment_id!r}.", param="id")
    return payment


def json_body() -> Any:
    """The request body decoded as JSON (see :func:`decode_json_body`); :class:`InvalidRequest`
    if it is not JSON, too deeply nested, or holds text that is not valid Unicode."""
    if not request.is_json:
        raise InvalidRequest("The request body must be a JSON object (Content-Type: application/json).")
    return decode_json_body(request.get_data())


def idempotent(work: Any, on_replay: ReplayHook | None = None, *, body: bytes = b"") -> Response:
    """Run ``work`` under the request's ``Idempotency-Key`` header, if any (``on_replay``: see
    ``run_idempotent``). ``body``: the raw body of endpoints that take one (already checked by
    :func:`json_body`); the others leave it out, so that a body sent to them is never parsed."""
    return run_idempotent(
        g.merchant,
        request.headers.get("Idempotency-Key"),
        fingerprint(request.method, request.path, body),
        work,
        on_replay,
        livemode=g.livemode,
    )


@bp.post("/payments")
def create() -> Response:
    """Create a payment and its Checkout Session; 201 with the payment object."""
    merchant, livemode, gateway = g.merchant, g.livemode, g.stripe_gateway
    parsed = parse_payment_create(json_body(), merchant.allowed_domains)
    base = public_base_url()

    def work() -> tuple[int, dict[str, Any]]:
        payment = create_payment(merchant, parsed, gateway, public_base_url=base, livemode=livemode)
        return 201, payment_to_dict(payment)

    return idempotent(work, body=request.get_data())


@bp.get("/payments/<payment_id>")
def retrieve(payment_id: str) -> Response:
    """One payment of the current merchant."""
    return json_response(200, payment_to_dict(get_payment_or_404(payment_id)))


@bp.post("/payments/<payment_id>")
def update(payment_id: str) -> Response:
    """Update a payment's ``metadata`` (Stripe's merge semantics: ``parse_payment_update``);
    200 with the payment. Honours ``Idempotency-Key``. 400 and nothing changed for a bad body."""
    payment = get_payment_or_404(payment_id)
    body = json_body()
    parse_payment_update(body, payment.metadata_)  # a bad body is a 400 before any key is claimed

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            locked = lock_payment(payment.id)  # concurrent updates merge, one after the other
            locked.metadata_ = parse_payment_update(body, locked.metadata_)
            locked.updated_at = utcnow()
        return 200, payment_to_dict(locked)

    return idempotent(work, body=request.get_data())


@bp.get("/payments")
def list_payments() -> Response:
    """The merchant's payments, newest first: ``order_id``, ``status`` and the list parameters
    (:mod:`app.api.pagination`)."""
    query = sa.select(Payment).where(Payment.merchant_id == g.merchant.id, Payment.livemode == g.livemode)
    if (order_id := request.args.get("order_id")) is not None:
        query = query.where(Payment.order_id == order_id)
    if (status := request.args.get("status")) is not None:
        if status not in set(PaymentStatus):
            raise InvalidRequest(f"Unknown status {status!r}.", param="status")
        query = query.where(Payment.status == status)
    return json_response(200, paginate(query, Payment, each(payment_to_dict), filters=("order_id", "status")))


@bp.post("/payments/<payment_id>/expire")
def expire(payment_id: str) -> Response:
    """Expire an open payment's Checkout Session; 409 ``payment_not_expirable`` otherwise."""
    payment = get_payment_or_404(payment_id)

    def work() -> tuple[int, dict[str, Any]]:
        return 200, payment_to_dict(expire_payment(payment, g.stripe_gateway, source="api"))

    return idempotent(work)
