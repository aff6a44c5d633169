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

from ..db import retry_on_lock_conflict
from ..errors import Conflict, GatewayUnavailable, Unprocessable
from ..extensions import db
from ..models import Merchant, Payment, new_id, utcnow
from ..stripe_gateway import GatewayDown, GatewayRejected, gateway
from .schemas import PaymentCreate
from .states import PaymentStatus
from .transitions import lock_payment, move, record


def create_payment(merchant: Merchant, request: PaymentCreate, *, public_base_url: str) -> Payment:
    """Create a payment for ``merchant`` and open its Checkout Session; returns it ``open``.

    ``public_base_url`` is our external address (``PUBLIC_BASE_URL`` or the request's), used for
    ``checkout_url`` and the URLs handed to Stripe.

    A retry of the request that created the order's live payment (the same body,
    :meth:`PaymentCreate.fingerprint`) is answered with that payment: while it is ``pending``
    the retry completes it with the same Checkout Session; once a create of it was answered
    ``gateway_unavailable`` (502), the same request gets the payment (201) whatever opened it
    meanwhile (reconciliation, the shopper's ``/pay`` visit, a concurrent retry), as the README
    promises. Any other request for an order that has a live payment — including the same body
    again after a 201, as Stripe does without an ``Idempotency-Key`` — raises
    :class:`Conflict` ``order_conflict`` with its ``payment_id``.
    Raises :class:`GatewayUnavailable` (payment stays ``pending``) or :class:`Unprocessable`
    ``gateway_rejected`` (payment ``failed``) as :func:`open_checkout_session` does.
    """
    payment = _live_payment_for_order(merchant.id, request.order_id)
    if payment is None:
        payment = _insert_pending(merchant, request, public_base_url)
    if payment is None:  # a concurrent request inserted the order's payment first
        payment = _live_payment_for_order(merchant.id, request.order_id)
        if payment is None:  # ... and it ended meanwhile; the merchant may simply retry
            raise Conflict(
                f"Order {request.order_id!r} changed while this request ran; retry it.",
                code="order_conflict",
                param="order_id",
            )
    if not _is_retry(payment, request):
        payment_id = payment.id
        db.session.rollback()
        raise Conflict(
            f"Order {request.order_id!r} already has a live payment ({payment_id}).",
            code="order_conflict",
            param="order_id",
            payment_id=payment_id,
        )
    payment_id = payment.id
    try:
        return open_checkout_session(payment, source="api")
    except GatewayUnavailable:
        _mark_gateway_unavailable(payment_id)
        raise


def _is_retry(payment: Payment, request: PaymentCreate) -> bool:
    """Whether ``request`` retries the one that created ``payment``: the same body, while the
    payment is still ``pending`` or after a create of it was answered 502."""
    return payment.request_fingerprint == request.fingerprint() and (
        payment.status == PaymentStatus.PENDING or payment.gateway_unavailable_at is not None
    )


def _mark_gateway_unavailable(payment_id: str) -> None:
    """Remember that a create of ``payment_id`` was answered 502: from now on the same request
    is answered with this payment (201), whatever opens it first."""
    db.session.rollback()
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment_id, Payment.gateway_unavailable_at.is_(None))
        .values(gateway_unavailable_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _insert_pending(merchant: Merchant, request: PaymentCreate, public_base_url: str) -> Payment | None:
    """Store the request as a ``pending`` payment and commit; None if the order got a live
    payment meanwhile (the unique ``(merchant_id, live_order_id)`` refused the insert)."""
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
        return None
    record(payment, "payment.requested", source="api", data={"amount_total": payment.amount_total})
    db.session.commit()
    return payment


def _live_payment_for_order(merchant_id: str, order_id: str) -> Payment | None:
    """The order's live payment, read in a fresh transaction (a plain read: no lock is taken,
    so concurrent retries of one request never queue on each other here)."""
    db.session.rollback()
    return db.session.scalars(
        sa.select(Payment)
        .where(Payment.merchant_id == merchant_id, Payment.live_order_id == order_id)
        .execution_options(populate_existing=True)
    ).first()


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
    """Create the Checkout Session of a ``pending`` payment and move it to ``open``; a payment
    in any other status is returned as it is.

    Safe to call again for the same payment, and concurrently: the Stripe idempotency key
    (derived from the payment id) makes Stripe return the same session, and the move to
    ``open`` happens under the payment's row lock, taken first, so of concurrent callers one
    moves it and the others find it open. Everything the call needs is read *before* the
    commit that ends the read: nothing touches the (expired) row again until Stripe has
    answered, so no transaction is open during the call. Raises :class:`GatewayUnavailable`
    when Stripe cannot be reached or does not answer in time (the payment stays ``pending``;
    the same request completes it later) and :class:`Unprocessable` ``gateway_rejected`` when
    Stripe refuses (the payment moves to ``failed`` with the reason).
    """
    if payment.status != PaymentStatus.PENDING:
        return payment
    payment_id = payment.id
    idempotency_key = payment.stripe_idempotency_key
    params = _session_params(payment)
    db.session.commit()  # no transaction may stay open across the network call
    try:
        session = gateway().create_checkout_session(params, idempotency_key=idempotency_key)
    except GatewayDown as exc:
        raise GatewayUnavailable(
            "Stripe could not be reached; the payment is pending. Retry the same request.",
            payment_id=payment_id,
        ) from exc
    except GatewayRejected as exc:
        failure = {"failure_code": exc.code or "gateway_rejected", "failure_message": exc.message[:500]}

        def fail() -> Payment:
            locked = lock_payment(payment_id)
            move(locked, PaymentStatus.FAILED, source=source, values=failure)
            db.session.commit()
            return locked

        retry_on_lock_conflict(fail)
        raise Unprocessable(
            f"Stripe refused the Checkout Session: {exc.message}",
            code="gateway_rejected",
            payment_id=payment_id,
        ) from exc

    def opened() -> Payment:
        locked = lock_payment(payment_id)
        move(
            locked,
            PaymentStatus.OPEN,
            source=source,
            stripe_object_id=session["id"],
            values={"stripe_checkout_session_id": session["id"], "stripe_checkout_url": session["url"]},
        )
        db.session.commit()
        return locked

    return retry_on_lock_conflict(opened)
