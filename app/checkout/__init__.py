"""Shopper pages: ``/pay/<id>``, ``/checkout/success``, ``/checkout/cancel``.

Server-rendered, no external assets. The success page never trusts its query string: it asks
Stripe for the Checkout Session and fulfils through the same path as the webhook.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, redirect, render_template, request
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response

from ..errors import GatewayUnavailable, NotFound, ServiceError
from ..extensions import db
from ..models import Payment
from ..payments.creation import open_checkout_session
from ..payments.currencies import format_amount
from ..payments.fulfilment import apply_checkout_session
from ..payments.payment_methods import describe
from ..payments.states import PAID, PaymentStatus
from ..rate_limits import per_address, retry_after_seconds
from ..stripe_gateway import GatewayDown, GatewayRejected, gateway

log = logging.getLogger(__name__)

bp = Blueprint("checkout", __name__)


@bp.app_template_filter("money")
def money_filter(amount: int, currency: str) -> str:
    """Jinja filter: ``{{ 1500 | money("usd") }}`` → ``$15.00``."""
    return format_amount(amount, currency)


@bp.app_template_filter("payment_method")
def payment_method_filter(details: dict[str, Any] | None) -> str | None:
    """Jinja filter: a payment's ``payment_method_details`` → ``Visa •••• 4242`` (or None)."""
    return describe(details)


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (existing parameters are kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _payment_or_404(payment_id: str | None) -> Payment:
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None:
        raise NotFound("We could not find this payment.")
    return payment


def _receipt(payment: Payment, status: int = 200) -> tuple[str, int]:
    continue_url = with_query(payment.success_url, payment_id=payment.id, order_id=payment.order_id)
    return (
        render_template(
            "receipt.html", payment=payment, continue_url=continue_url, paid=payment.status in PAID
        ),
        status,
    )


@bp.get("/pay/<payment_id>")
@per_address("RATELIMIT_PAY_PAGE")
def pay(payment_id: str) -> Response | tuple[str, int]:
    """Send the shopper to Stripe's hosted page, or show where the payment stands."""
    payment = _payment_or_404(payment_id)
    if payment.status == PaymentStatus.PENDING:
        try:
            open_checkout_session(payment, source="redirect")
        except ServiceError:
            log.warning("payment %s: could not open its Checkout Session", payment.id)
    if payment.status == PaymentStatus.OPEN and payment.stripe_checkout_url:
        return redirect(payment.stripe_checkout_url, code=303)
    if payment.status in PAID or payment.status == PaymentStatus.PROCESSING:
        return _receipt(payment)
    if payment.status in (PaymentStatus.EXPIRED, PaymentStatus.FAILED):
        return render_template("ended.html", payment=payment), 410
    raise GatewayUnavailable("The payment page is temporarily unavailable. Please try again in a minute.")


@bp.get("/checkout/success")
@per_address("RATELIMIT_SUCCESS_PAGE")
def success() -> tuple[str, int]:
    """Stripe's redirect after payment: confirm with Stripe, fulfil if paid, show the receipt."""
    session_id = request.args.get("session_id", "")
    if not session_id.startswith("cs_"):
        raise NotFound("This confirmation link is not valid.")
    try:
        session = gateway().retrieve_checkout_session(session_id)
    except GatewayRejected as exc:
        raise NotFound("This confirmation link is not valid.") from exc
    except GatewayDown as exc:
        raise GatewayUnavailable(
            "We could not confirm your payment yet. If you paid, you will get a confirmation; "
            "please reload this page in a minute."
        ) from exc
    payment = apply_checkout_session(session, source="redirect")
    db.session.commit()
    if payment is None:
        raise NotFound("This confirmation link is not valid.")
    return _receipt(payment)


@bp.get("/checkout/cancel")
def cancel() -> Response:
    """The shopper left Stripe's page: back to the merchant's ``cancel_url``; the payment stays open."""
    payment = _payment_or_404(request.args.get("payment_id"))
    return redirect(payment.cancel_url, code=303)


@bp.errorhandler(ServiceError)
def error_page(exc: ServiceError) -> tuple[str, int]:
    db.session.rollback()
    return render_template(
        "message.html",
        title="Something went wrong" if exc.status >= 500 else "Not found",
        message=exc.message,
    ), exc.status


@bp.errorhandler(RateLimitExceeded)
def rate_limited(_exc: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
    """A page asking the shopper to wait, with ``Retry-After``."""
    retry_after = retry_after_seconds()
    page = render_template(
        "message.html",
        title="Please wait a moment",
        message=f"Too many requests came from your network. Please try again in {retry_after} seconds.",
    )
    return page, 429, {"Retry-After": str(retry_after)}
