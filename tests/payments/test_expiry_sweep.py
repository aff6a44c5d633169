"""The worker's expiry sweep: one Checkout Session Stripe refuses to show must not stop the rest.

A session Stripe answers 404 for (test data deleted on Stripe's side, a key of another account)
used to end the whole sweep with ``GatewayRejected``, on every run, so every overdue payment
after it in the batch stayed open for ever.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Payment, utcnow
from app.payments.expiry import sweep_expired_payments
from app.stripe_gateway import stripe_gateways


def _overdue(payment_id: str, minutes_ago: int, **values: str) -> None:
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment_id)
        .values(expires_at=utcnow() - timedelta(minutes=minutes_ago), **values)
    )
    db.session.commit()


def test_a_session_stripe_does_not_know_is_reported_and_the_sweep_goes_on(shop, app):
    unknown, paid = shop.create(order_id="A-1"), shop.create(order_id="A-2")
    shop.sandbox.webhooks(False)
    shop.pay(paid)  # paid, and we missed the webhook: the sweep is what finds out
    shop.sandbox.webhooks(True)
    with app.app_context():
        _overdue(unknown["id"], 10, stripe_checkout_session_id="cs_test_deleted_on_stripes_side")
        _overdue(paid["id"], 5)
        detail = sweep_expired_payments(stripe_gateways())

    assert detail == "expiry sweep: 2 overdue payments checked, 1 error"
    assert shop.get(paid["id"])["status"] == "succeeded"
    assert shop.get(unknown["id"])["status"] == "open"  # a 404 alone never ends a payment
