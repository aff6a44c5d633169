"""Shopper pages: ``/pay/<id>``, ``/checkout/success``, ``/checkout/cancel``.

Server-rendered, no external assets, no script. The success page never trusts its query
string: it asks Stripe for the Checkout Session and fulfils through the same path as the
webhook. Nothing moves on by itself: the receipt and the ended page have a "Return to
<merchant>" link the shopper follows when ready (WCAG 2.2.1, "Timing Adjustable": no timed
redirect).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response

from ..errors import GatewayUnavailable, NotFound, ServiceError
from ..extensions import db
from ..models import Payment, Refund
from ..payments.creation import open_checkout_session
from ..payments.currencies import format_amount
from ..payments.payment_methods import describe
from ..payments.states import PAID, PaymentStatus
from ..payments.sync import session_livemode, sync_checkout_session
from ..rate_limits import per_address, retry_after_seconds
from ..stripe_gateway import GatewayDown, GatewayRejected, stripe_gateways

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


@bp.app_template_filter("rfc3339")
def rfc3339_filter(moment: datetime) -> str:
    """Jinja filter: an aware datetime as RFC 3339 in UTC, for ``<time datetime>``:
    ``2026-11-21T14:05:09Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.app_template_filter("readable_time")
def readable_time_filter(moment: datetime) -> str:
    """Jinja filter: an aware datetime for people, in UTC and saying so:
    ``21 November 2026, 14:05 UTC``."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y, %H:%M} UTC"


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (existing parameters are kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def back_to_merchant(url: str, payment: Payment) -> str:
    """The merchant's ``success_url`` or ``cancel_url`` with ``payment_id`` and ``order_id``
    added, so the shop knows which order the shopper comes back from."""
    return with_query(url, payment_id=payment.id, order_id=payment.order_id)


def _payment_or_404(payment_id: str | None) -> Payment:
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None:
        raise NotFound("We could not find this payment.")
    return payment


def _receipt(payment: Payment, status: int = 200) -> tuple[str, int]:
    refunds = db.session.scalars(
        sa.select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.created_at, Refund.id)
    ).all()
    return (
        render_template(
            "receipt.html",
            payment=payment,
            continue_url=back_to_merchant(payment.success_url, payment),
            paid=payment.status in PAID,
            refunds=refunds,
            # A paid receipt is dated when the money moved; a bank debit still processing, when
            # the shopper paid (the payment's last change).
            receipt_time=payment.paid_at or payment.updated_at,
        ),
        status,
    )


@bp.get("/pay/<payment_id>")
@per_address("RATELIMIT_PAY_PAGE")
def pay(payment_id: str) -> Response | tuple[str, int]:
    """Send the shopper to Stripe's hosted page, or show where the payment stands."""
    # The common case, an open payment, from one column: loading the whole row as an object
    # (JSON columns, timestamps, identity map) was a third of this request's CPU (make bench).
    hosted_page = db.session.scalar(
        sa.select(Payment.stripe_checkout_url).where(
            Payment.id == payment_id, Payment.status == PaymentStatus.OPEN.value
        )
    )
    if hosted_page:
        return redirect(hosted_page, code=303)
    payment = _payment_or_404(payment_id)
    if payment.status == PaymentStatus.PENDING:
        try:
            open_checkout_session(payment, stripe_gateways().for_mode(payment.livemode), source="redirect")
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
    gateway = stripe_gateways().for_mode(session_livemode(session_id))
    try:
        payment = sync_checkout_session(session_id, gateway, source="redirect").payment
    except GatewayRejected as exc:
        raise NotFound("This confirmation link is not valid.") from exc
    except GatewayDown as exc:
        raise GatewayUnavailable(
            "We could not confirm your payment yet. If you paid, you will get a confirmation; "
            "please reload this page in a minute."
        ) from exc
    if payment is None:
        raise NotFound("This confirmation link is not valid.")
    return _receipt(payment)


@bp.get("/checkout/cancel")
def cancel() -> Response:
    """The shopper left Stripe's page: back to the merchant's ``cancel_url`` with
    ``payment_id`` and ``order_id`` (as on the way back from the receipt); the payment stays open."""
    payment = _payment_or_404(request.args.get("payment_id"))
    return redirect(back_to_merchant(payment.cancel_url, payment), code=303)


#: A payment id as it appears in a pasted link or on its own (``pay_`` and letters/digits).
_PAYMENT_ID = re.compile(r"\bpay_[A-Za-z0-9]+")


@bp.get("/pay")
def find_payment() -> Response | tuple[str, int]:
    """The not-found page's form: ``?link=`` a pasted payment link (or bare ``pay_…`` id) →
    303 to ``/pay/<id>``; anything without a payment id → the not-found page again, with the
    error tied to the field."""
    found = _PAYMENT_ID.search(request.args.get("link", ""))
    if found is None:
        return _not_found(
            "We could not find this payment.",
            field_error="That does not look like a payment link: a payment link contains “/pay/pay_”.",
        )
    return redirect(url_for("checkout.pay", payment_id=found.group()), code=303)


def _not_found(message: str, field_error: str | None = None) -> tuple[str, int]:
    """The not-found page: ``message``, what the shopper can do, and a field to open a payment
    link again (``field_error`` shown next to it)."""
    return render_template("not_found.html", message=message, field_error=field_error), 404


@bp.errorhandler(ServiceError)
def error_page(exc: ServiceError) -> tuple[str, int]:
    db.session.rollback()
    if exc.status == 404:
        return _not_found(exc.message)
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
