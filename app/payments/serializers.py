"""The API's JSON representation of payments, refunds and timeline entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..models import Payment, Refund, TimelineEntry


def rfc3339(moment: datetime | None) -> str | None:
    """``2026-11-21T10:00:00Z`` (UTC, whole seconds), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payment_to_dict(payment: Payment) -> dict[str, Any]:
    """The payment object as the API returns it (amounts in minor units, times RFC 3339 UTC).

    ``payment_method_types`` is the merchant's choice (None: Stripe's dynamic payment methods);
    ``payment_method_details`` what paid, ``{"type": "card", "card": {"brand", "last4"}}``
    (Stripe's charge shape, cut down), None until the payment succeeded.
    """
    failure = None
    if payment.failure_code or payment.failure_message:
        failure = {
            "code": payment.failure_code,
            "decline_code": payment.failure_decline_code,
            "message": payment.failure_message,
        }
    return {
        "id": payment.id,
        "object": "payment",
        "livemode": payment.livemode,
        "order_id": payment.order_id,
        "status": payment.status,
        "currency": payment.currency,
        "amount_total": payment.amount_total,
        "amount_refunded": payment.amount_refunded,
        "line_items": payment.line_items,
        "customer_email": payment.customer_email,
        "metadata": payment.metadata_,
        "checkout_url": payment.checkout_url,
        "stripe_checkout_session_id": payment.stripe_checkout_session_id,
        "expires_at": rfc3339(payment.expires_at),
        "created_at": rfc3339(payment.created_at),
        "updated_at": rfc3339(payment.updated_at),
        "paid_at": rfc3339(payment.paid_at),
        "fulfilled_at": rfc3339(payment.fulfilled_at),
        "failure": failure,
        "payment_method_types": payment.payment_method_types,
        "payment_method_details": payment.payment_method_details,
    }


def refund_to_dict(refund: Refund) -> dict[str, Any]:
    """The refund object as the API returns it (``amount`` in minor units)."""
    return {
        "id": refund.id,
        "object": "refund",
        "livemode": refund.payment.livemode,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "metadata": refund.metadata_,
        "status": refund.status,
        "failure_reason": refund.failure_reason,
        "stripe_refund_id": refund.stripe_refund_id,
        "created_at": rfc3339(refund.created_at),
    }


def timeline_entry_to_dict(entry: TimelineEntry, *, livemode: bool) -> dict[str, Any]:
    """One entry of a payment's timeline as the API returns it; ``livemode`` is its payment's.

    ``{"id": int, "object": "payment_event", "livemode", "payment_id", "type" (payment.requested, …,
    refund.failed), "source" (api, redirect, webhook, reconcile, worker), "refund_id",
    "stripe_event_id", "stripe_object_id", "data": {...}, "created_at": RFC 3339 UTC}``.
    ``data`` depends on the type (amounts in minor units): e.g. ``payment.failed_attempt`` has
    ``code``, ``decline_code`` and ``message`` as Stripe gave them.
    """
    return {
        "id": entry.id,
        "object": "payment_event",
        "livemode": livemode,
        "payment_id": entry.payment_id,
        "type": entry.type,
        "source": entry.source,
        "refund_id": entry.refund_id,
        "stripe_event_id": entry.stripe_event_id,
        "stripe_object_id": entry.stripe_object_id,
        "data": entry.data or {},
        "created_at": rfc3339(entry.created_at),
    }
