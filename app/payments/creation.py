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

from ..db import retry_on_lock_conflict, unit_of_work
from ..errors import Conflict, GatewayUnavailable, Unprocessable
from ..extensions import db
from ..models import Merchant, Payment, new_id, utcnow
from ..stripe_gateway import GatewayDown, GatewayRejected, StripeGateway
from .schemas import PaymentCreate
from .states import PaymentStatus, Source
from .transitions import lock_payment, move, record


def create_payment(
    merchant: Merchant,
    request: PaymentCreate,
    gateway: StripeGateway,
    *,
    public_base_url: str,
    livemode: bool = True,
) -> Payment:
    """Create a payment for ``merchant`` in live or test mode (``livemode``) and open its Checkout
    Session through ``gateway`` (that mode's Stripe account); returns it ``open``.

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
    merchant_id = merchant.id
    # Insert first: a new order, the common case, costs no lookup. The unique
    # (merchant_id, livemode, live_order_id) refuses the insert when the order has a live payment.
    payment = _insert_pending(merchant, request, public_base_url, livemode)
    if payment is None:  # the order has a live payment: this request's retry, or a conflict
        payment = _live_payment_for_order(merchant_id, request.order_id, livemode)
        if payment is None:  # ... which ended meanwhile; the merchant may simply retry
            raise Conflict(
                f"Order {request.order_id!r} changed while this request ran; retry it.",
                code="order_conflict",
                param="order_id",
            )
    if not _is_retry(payment, request):
        payment_id = payment.id
        raise Conflict(
            f"Order {request.order_id!r} already has a live payment ({payment_id}).",
            code="order_conflict",
            param="order_id",
            payment_id=payment_id,
        )
    payment_id = payment.id
    try:
        return open_checkout_session(payment, gateway, source=Source.API)
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
    with unit_of_work(fresh=True):
        db.session.execute(
            sa.update(Payment)
            .where(Payment.id == payment_id, Payment.gateway_unavailable_at.is_(None))
            .values(gateway_unavailable_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _insert_pending(
    merchant: Merchant, request: PaymentCreate, public_base_url: str, livemode: bool
) -> Payment | None:
    """Store the request as a ``pending`` payment in a unit of work of its own; None (rolled
    back) if the order has a live payment in that mode (the unique ``(merchant_id, livemode,
    live_order_id)`` refused the insert)."""
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
        livemode=livemode,
    )
    try:
        with unit_of_work() as session:
            session.add(payment)
            session.flush()  # the unique key refuses the insert here
            data = {"amount_total": payment.amount_total}
            record(payment, "payment.requested", source=Source.API, data=data)
    except IntegrityError:
        return None
    return payment


def _live_payment_for_order(merchant_id: str, order_id: str, livemode: bool) -> Payment | None:
    """The order's live payment in that mode, read in a fresh unit of work (a plain read: no lock is taken,
    so concurrent retries of one request never queue on each other here)."""
    with unit_of_work(fresh=True):
        return db.session.scalars(
            sa.select(Payment)
            .where(
                Payment.merchant_id == merchant_id,
                Payment.livemode == livemode,
                Payment.live_order_id == order_id,
            )
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


def open_checkout_session(payment: Payment, gateway: StripeGateway, *, source: str) -> Payment:
    """Create the Checkout Session of a ``pending`` payment through ``gateway`` (the account of
    the payment's mode) and move it to ``open``; a payment in any other status is returned as it is.

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
    with unit_of_work():  # ends the caller's read: no transaction may stay open across the network call
        payment_id = payment.id
        idempotency_key = payment.stripe_idempotency_key
        params = _session_params(payment)
    try:
        session = gateway.create_checkout_session(params, idempotency_key=idempotency_key)
    except GatewayDown as exc:
        raise GatewayUnavailable(
            "Stripe could not be reached; the payment is pending. Retry the same request.",
            payment_id=payment_id,
        ) from exc
    except GatewayRejected as exc:
        failure = {"failure_code": exc.code or "gateway_rejected", "failure_message": exc.message[:500]}

        def fail() -> Payment:
            with unit_of_work():
                locked = lock_payment(payment_id)
                move(locked, PaymentStatus.FAILED, source=source, values=failure)
            return locked

        retry_on_lock_conflict(fail)
        raise Unprocessable(
            f"Stripe refused the Checkout Session: {exc.message}",
            code="gateway_rejected",
            payment_id=payment_id,
        ) from exc

    def opened() -> Payment:
        with unit_of_work():
            locked = lock_payment(payment_id)
            move(
                locked,
                PaymentStatus.OPEN,
                source=source,
                stripe_object_id=session["id"],
                values={"stripe_checkout_session_id": session["id"], "stripe_checkout_url": session["url"]},
            )
        return locked

    return retry_on_lock_conflict(opened)
