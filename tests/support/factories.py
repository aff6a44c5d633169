"""Factories: rows built in the open app context, with defaults a test overrides by keyword."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Merchant, Payment, Refund, TimelineEntry, new_id, utcnow


def insert_merchant(name: str = "Acme Shop") -> str:
    """Insert a merchant row (no API key: tests of domain code need none); commits, returns its id."""
    merchant = Merchant(id=new_id("mer"), name=name, allowed_domains=["shop.example"], created_at=utcnow())
    db.session.add(merchant)
    db.session.commit()
    return merchant.id


def insert_payment(merchant_id: str, **fields: Any) -> str:
    """Insert a payment row (default: ``succeeded``, $30.00, a fresh order id) in the open app context;
    commits and returns its id."""
    now = fields.pop("created_at", None) or utcnow()
    order_id = fields.pop("order_id", None) or "A-" + new_id("o")[-8:]
    status = fields.pop("status", "succeeded")
    values: dict[str, Any] = {
        "id": new_id("pay"),
        "merchant_id": merchant_id,
        "order_id": order_id,
        "live_order_id": None if status in ("failed", "expired") else order_id,
        "status": status,
        "currency": "usd",
        "amount_total": 3000,
        "amount_refunded": 0,
        "line_items": [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}],
        "customer_email": "ada@example.com",
        "metadata_": {"cart": "c_77"},
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
        "checkout_url": "http://127.0.0.1/pay/x",
        "expires_at": now + timedelta(hours=1),
        "request_fingerprint": "f" * 64,
        "stripe_idempotency_key": new_id("k"),
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    payment = Payment(**values)
    db.session.add(payment)
    db.session.commit()
    return payment.id


def insert_refund(
    payment_id: str, status: str = "pending", amount: int = 1000, stripe_refund_id: str | None = "re_1"
) -> str:
    """Insert a refund row of ``amount`` (minor units) for ``payment_id``; commits, returns its id."""
    now = utcnow()
    refund = Refund(
        id=new_id("rf"),
        payment_id=payment_id,
        amount=amount,
        currency="usd",
        metadata_={},
        status=status,
        stripe_refund_id=stripe_refund_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(refund)
    db.session.commit()
    return refund.id


def timeline_types(payment_id: str) -> list[str]:
    """The types of the payment's timeline entries, oldest first."""
    return list(
        db.session.scalars(
            sa.select(TimelineEntry.type)
            .where(TimelineEntry.payment_id == payment_id)
            .order_by(TimelineEntry.id)
        )
    )
