"""The database itself refuses a status the code does not know (CHECK constraints, migration 0010),
on SQLite and on MariaDB (the schema comes from the migrations)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Delivery, MerchantEvent, Payment, Refund, WebhookEndpoint, new_id
from app.payments.transitions import notify_merchant
from tests.support.factories import insert_payment


def _rows(merchant_id: str) -> dict[type, str]:
    """One valid row of each table with a status column; their ids by model."""
    payment_id = insert_payment(merchant_id, stripe_payment_intent_id="pi_1")
    payment = db.session.get_one(Payment, payment_id)
    endpoint = WebhookEndpoint(
        id=new_id("we"), merchant_id=merchant_id, url="https://shop.example/hooks", enabled_events=["*"]
    )
    db.session.add(endpoint)
    db.session.flush()
    refund = Refund(
        id="rf_check", payment_id=payment_id, amount=100, currency="usd", metadata_={}, status="pending"
    )
    db.session.add(refund)
    notify_merchant("payment.succeeded", payment)
    event = db.session.scalars(sa.select(MerchantEvent)).one()
    db.session.commit()
    delivery = db.session.scalars(sa.select(Delivery).where(Delivery.event_id == event.id)).one()
    return {Payment: payment_id, Refund: refund.id, WebhookEndpoint: endpoint.id, Delivery: delivery.id}


@pytest.mark.parametrize("model", [Payment, Refund, WebhookEndpoint, Delivery], ids=lambda m: m.__tablename__)
def test_the_database_refuses_an_unknown_status(app, merchant, model):
    with app.app_context():
        row_id = _rows(merchant.id)[model]
        with pytest.raises(sa.exc.DBAPIError) as refused:
            db.session.execute(sa.update(model).where(model.id == row_id).values(status="bogus"))
            db.session.flush()
        db.session.rollback()
        assert f"ck_{model.__tablename__}_status" in str(refused.value)
        assert db.session.get_one(model, row_id).status != "bogus"
