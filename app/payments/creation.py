"""Creating a payment: store the processing record, then open its Checkout Session.

The record is committed as ``pending`` *before* Stripe is called, and the Stripe idempotency key
(derived from our payment id) is stored with it, so a retry after a timeout can never create a
second Checkout Session. No database transaction is open while Stripe is called.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, GatewayUnavailable, Unprocessable
from ..extensions import db
from ..models import Merchant, Payment, new_id, utcnow
from ..stripe_gateway import GatewayDown, GatewayRejected, gateway
from .schemas import PaymentCreate
from .states import PaymentStatus
from .transitions import move, record


def create_payment(merchant: Merchant, request: PaymentCreate, *, public_base_url: str) -> Payment:
    """Create a payment for ``merchant`` and open its Checkout Session; returns it ``open``.

    ``public_base_url`` is our external address (``PUBLIC_BASE_URL`` or the request's), used for
    ``checkout_url`` and the URLs handed to Stripe.

    If the order already has a live payment, raises :class:`Conflict` ``order_conflict`` with
    its ``payment_id`` — unless that payment is still ``pending`` from the very same request
    (a retry after ``gateway_unavailable``), which is then completed instead.
    Raises :class:`GatewayUnavailable` (payment stays ``pending``) or :class:`Unprocessable`
    ``gateway_rejected`` (payment ``failed``) as :func:`open_checkout_session` does.
    """
    payment_id = new_id("pay")
    now = utcnow()
    payment = Payment(
        id=payment_id,
        merchant_id=merchant.id,
        order_id=request.order_id,
        live_order_id=request.order_id,
        status=PaymentStatus.PENDING.value,
        currency=request.currency,
        amount_total=request.amount_total,
        amount_refunded=0,
        line_items=[item.model_dump() for item in request.line_items],
        customer_email=request.customer_email,
        metadata_=request.metadata,
        success_url=request.success_url,
        cancel_url=request.cancel_url,
        checkout_url=f"{public_base_url}/pay/{payment_id}",
        expires_at=now + timedelta(seconds=request.expires_in),
        request_fingerprint=request.fingerprint(),
        stripe_idempotency_key=f"checkout-session-{payment_id}",
        payment_method_types=request.payment_method_types,
        created_at=now,
        updated_at=now,
    )
    db.session.add(payment)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        payment = _live_payment_for_order(merchant, request)
    else:
        record(payment, "payment.requested", source="api", data={"amount_total": payment.amount_total})
        db.session.commit()
    return open_checkout_session(payment, source="api")


def _live_payment_for_order(merchant: Merchant, request: PaymentCreate) -> Payment:
    existing = db.session.scalars(
        sa.select(Payment).where(
            Payment.merchant_id == merchant.id, Payment.live_order_id == request.order_id
        )
    ).first()
    db.session.commit()  # end the read: Stripe may be called next
    if existing is None:  # the live payment ended meanwhile; the merchant may simply retry
        raise Conflict(
            f"Order {request.order_id!r} changed while this request ran; retry it.",
            code="order_conflict",
            param="order_id",
        )
    if existing.status == PaymentStatus.PENDING and existing.request_fingerprint == request.fingerprint():
        return existing
    raise Conflict(
        f"Order {request.order_id!r} already has a live payment ({existing.id}).",
        code="order_conflict",
        param="order_id",
        payment_id=existing.id,
    )


def _session_params(payment: Payment) -> dict[str, Any]:
    base = payment.checkout_url.rsplit("/pay/", 1)[0]
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": payment.id,
        "line_items": [
            {
                "price_data": {
                    "currency": payment.currency,
                    "unit_amount": item["unit_amount"],
                    "product_data": {"name": item["name"]},
                },
                "quantity": item["quantity"],
            }
            for item in payment.line_items
        ],
        "success_url": f"{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/checkout/cancel?payment_id={payment.id}",
        "expires_at": int(payment.expires_at.timestamp()),
        "metadata": {"payment_id": payment.id, "merchant_name": payment.merchant.name},
        "payment_intent_data": {"metadata": {"payment_id": payment.id, "order_id": payment.order_id}},
    }
    if payment.customer_email:
        params["customer_email"] = payment.customer_email
    if payment.payment_method_types:  # else Stripe's dynamic payment methods apply
        params["payment_method_types"] = payment.payment_method_types
    return params


def open_checkout_session(payment: Payment, *, source: str) -> Payment:
    """Create the Checkout Session of a ``pending`` payment and move it to ``open``.

    Safe to call again for the same payment: the Stripe idempotency key makes Stripe return
    the same session. Raises :class:`GatewayUnavailable` when Stripe cannot be reached (the
    payment stays ``pending``) and :class:`Unprocessable` ``gateway_rejected`` when Stripe
    refuses (the payment moves to ``failed`` with the reason).
    """
    if payment.status != PaymentStatus.PENDING:
        return payment
    params = _session_params(payment)
    db.session.commit()  # no transaction may stay open across the network call
    try:
        session = gateway().create_checkout_session(params, idempotency_key=payment.stripe_idempotency_key)
    except GatewayDown as exc:
        raise GatewayUnavailable(
            "Stripe could not be reached; the payment is pending. Retry the same request.",
            payment_id=payment.id,
        ) from exc
    except GatewayRejected as exc:
        move(
            payment,
            PaymentStatus.FAILED,
            source=source,
            values={"failure_code": exc.code or "gateway_rejected", "failure_message": exc.message[:500]},
        )
        db.session.commit()
        raise Unprocessable(
            f"Stripe refused the Checkout Session: {exc.message}",
            code="gateway_rejected",
            payment_id=payment.id,
        ) from exc
    move(
        payment,
        PaymentStatus.OPEN,
        source=source,
        stripe_object_id=session["id"],
        values={
            "stripe_checkout_session_id": session["id"],
            "stripe_checkout_url": session["url"],
        },
    )
    db.session.commit()
    return payment
