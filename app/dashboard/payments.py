"""Payments: the filtered list and its CSV export, one payment's page, refund and expire."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as Redirect

from ..api.pagination import paginate
from ..extensions import db
from ..models import Payment, Refund
from ..payments.currencies import format_amount
from ..payments.expiry import expire_payment
from ..payments.refunds import create_refund
from ..payments.schemas import parse_refund_create
from ..payments.serializers import rfc3339
from ..payments.states import REFUNDABLE, PaymentStatus, RefundStatus
from ..stripe_gateway import stripe_gateways
from . import bp
from .forms import REFUND_REASONS, RefundForm, minor_units
from .mode import viewing_livemode
from .queries import PaymentFilters, newest_first, payment_detail, payment_or_404, refunds_query

#: The payments list's own query parameters (``PaymentFilters.from_args``).
PAYMENT_FILTERS = ("status", "currency", "created_from", "created_to", "q")

CSV_COLUMNS = (
    "id", "created_at", "order_id", "status", "currency", "amount_total", "amount_refunded", "customer_email",
)  # fmt: skip


@bp.get("/payments")
def payments() -> str:
    """Newest first, filtered by status, currency and created date, or searched by payment id,
    order id or customer email; cursor pagination (``starting_after``)."""
    filters = PaymentFilters.from_args(request.args)
    page = paginate(
        filters.query(current_user.merchant_id, viewing_livemode()), Payment, list, filters=PAYMENT_FILTERS
    )
    return render_template(
        "dashboard/payments.html", page=page, filters=filters, statuses=[s.value for s in PaymentStatus]
    )


@bp.get("/payments.csv")
def payments_csv() -> Response:
    """The filtered list (every page) as CSV; amounts in minor units, times RFC 3339 UTC."""
    query = newest_first(
        PaymentFilters.from_args(request.args).query(current_user.merchant_id, viewing_livemode())
    )

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for payment in db.session.scalars(query.execution_options(yield_per=1000)):
            writer.writerow(
                [
                    payment.id,
                    rfc3339(payment.created_at),
                    _cell(payment.order_id),
                    payment.status,
                    payment.currency,
                    payment.amount_total,
                    payment.amount_refunded,
                    _cell(payment.customer_email or ""),
                ]
            )
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=payments.csv"},
    )


def _cell(text: str) -> str:
    """Text a spreadsheet would take for a formula gets a leading quote (OWASP "CSV Injection")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/payments/<payment_id>")
def payment(payment_id: str) -> str:
    """One payment: amounts, line items, customer, metadata, Stripe ids, timeline, refunds,
    merchant events with every delivery attempt; actions for admins."""
    found = payment_or_404(current_user.merchant_id, payment_id, viewing_livemode())
    return render_template(
        "dashboard/payment.html",
        payment=found,
        detail=payment_detail(found),
        refund_form=RefundForm(formdata=None),
        refundable=found.status in REFUNDABLE,
        expirable=found.status == PaymentStatus.OPEN,
    )


@bp.post("/payments/<payment_id>/refund")
def refund(payment_id: str) -> Redirect | str | tuple[str, int]:
    """Refund in two steps: the form posts here and gets a confirmation page; its "Confirm
    refund" button posts again with ``confirm=yes`` and the refund is made through the API's
    service (``create_refund``, source ``dashboard``)."""
    found = payment_or_404(current_user.merchant_id, payment_id, viewing_livemode())
    form = RefundForm()
    if not form.validate():
        message = "Choose a reason from the list."
        return render_template("dashboard/error.html", title="Check the refund", message=message), 400
    amount = minor_units(form.amount.data or "", found.currency)
    if request.form.get("confirm") != "yes":
        left = found.amount_total - found.amount_refunded
        return render_template(
            "dashboard/refund_confirm.html",
            payment=found,
            form=form,
            amount=amount if amount is not None else left,
            is_full=amount is None,
            reason_label=REFUND_REASONS[form.reason.data],
        )
    body = {"reason": form.reason.data} | ({} if amount is None else {"amount": amount})
    gateway = stripe_gateways().for_mode(found.livemode)
    made = create_refund(found, parse_refund_create(body), gateway, source="dashboard")
    flash(f"Refund of {format_amount(made.amount, made.currency)} is {made.status}.", "success")
    return redirect(url_for("dashboard.payment", payment_id=payment_id))


@bp.post("/payments/<payment_id>/expire")
def expire(payment_id: str) -> Redirect:
    """Expire an open payment's Checkout Session (``expire_payment``, source ``dashboard``)."""
    found = payment_or_404(current_user.merchant_id, payment_id, viewing_livemode())
    expire_payment(found, stripe_gateways().for_mode(found.livemode), source="dashboard")
    flash("The payment is expired: its checkout link no longer takes payments.", "success")
    return redirect(url_for("dashboard.payment", payment_id=payment_id))


@bp.get("/refunds")
def refunds() -> str:
    """The merchant's refunds, newest first, optionally only one status; cursor pagination."""
    status = request.args.get("status") or None
    page = paginate(
        refunds_query(current_user.merchant_id, status, viewing_livemode()), Refund, list, filters=("status",)
    )
    return render_template(
        "dashboard/refunds.html", page=page, status=status, statuses=[s.value for s in RefundStatus]
    )
