"""The demo storefront shows an order as paid only once its signed notification arrived."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.demo import DEMO_MERCHANT_NAME
from app.extensions import db
from app.models import Merchant
from app.notifications.worker import Worker
from app.payments.states import PaymentStatus
from tests.support.servers import ServerThread, free_port


@pytest.fixture
def demo_app(app: Flask, database_url: str, tmp_path) -> Flask:
    """A development app (demo storefront on) on the test database, instance folder in tmp."""
    demo = create_app(
        {
            "APP_ENV": "development",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WEBHOOK_ALLOW_PRIVATE_URLS": True,
            "WEBHOOK_RETRY_SCHEDULE": [0],
        }
    )
    demo.instance_path = str(tmp_path)
    yield demo
    with demo.app_context():
        db.engine.dispose()


def test_thanks_page_says_paid_only_after_the_verified_notification(demo_app, make_payment, transition):
    server = ServerThread(demo_app, free_port())
    try:
        setup = demo_app.test_cli_runner().invoke(args=["demo", "setup", "--base-url", server.url])
        assert setup.exit_code == 0, setup.output
        assert (Path(demo_app.instance_path) / "demo_webhook_secret").read_text().startswith("whsec_")
        with demo_app.app_context():
            merchant_id = db.session.query(Merchant).filter_by(name=DEMO_MERCHANT_NAME).one().id
        payment_id = make_payment(merchant_id)
        client = demo_app.test_client()

        transition(payment_id, PaymentStatus.SUCCEEDED)
        waiting = client.get(f"/demo/thanks?payment_id={payment_id}").get_data(as_text=True)
        # It keeps asking the store (a static script polling /demo/orders/<id>), never reloads itself.
        assert "Waiting for payment confirmation" in waiting and "data-poll=" in waiting
        assert "http-equiv" not in waiting
        assert client.get(f"/demo/orders/{payment_id}").get_json()["status"] == "waiting"

        with demo_app.app_context():
            assert Worker(name="demo").run_once() == 1
        paid = client.get(f"/demo/thanks?payment_id={payment_id}").get_data(as_text=True)
        assert "Paid" in paid and "refresh" not in paid
        assert client.get(f"/demo/orders/{payment_id}").get_json() == {"status": "paid", "text": "Paid"}
    finally:
        server.stop()


def test_the_store_rejects_an_unsigned_notification(demo_app):
    (Path(demo_app.instance_path) / "demo_webhook_secret").write_text("whsec_" + "A" * 44)
    response = demo_app.test_client().post(
        "/demo/webhooks",
        data='{"type": "payment.succeeded", "data": {"id": "pay_x"}}',
        headers={"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
    )
    assert response.status_code == 400
