"""GET /metrics: requests, Stripe calls and events, payments, refunds, deliveries, the outbox;
loopback-only without METRICS_TOKEN, bearer-protected with it."""

from __future__ import annotations

from app.extensions import db
from app.models import Delivery, MerchantEvent, utcnow
from tests.helpers import payment_body
from tests.ops.conftest import sample


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return response.text


COUNTED = [
    ("checkout_http_requests_total", {"endpoint": "api.create", "method": "POST", "status": "201"}),
    ("checkout_http_request_duration_seconds_count", {"endpoint": "api.create"}),
    ("checkout_stripe_api_calls_total", {"operation": "create_checkout_session", "outcome": "ok"}),
    ("checkout_stripe_api_call_duration_seconds_count", {"operation": "create_refund"}),
    ("checkout_stripe_events_total", {"type": "checkout.session.completed", "outcome": "processed"}),
    ("checkout_payments_created_total", {}),
    ("checkout_payment_status_changes_total", {"status": "succeeded"}),
    ("checkout_refunds_total", {"outcome": "succeeded"}),
    ("checkout_webhook_delivery_attempts_total", {"result": "succeeded"}),
]


def test_a_full_run_is_counted(client, full_flow):
    before = scrape(client)
    full_flow()
    after = scrape(client)
    for name, labels in COUNTED:
        assert sample(after, name, **labels) >= sample(before, name, **labels) + 1, (name, labels)
    assert (
        sample(after, "checkout_payments_created_total")
        == sample(before, "checkout_payments_created_total") + 1
    )


def test_outbox_backlog_and_age_of_the_oldest_message(app, client, merchant):
    text = scrape(client)
    assert sample(text, "checkout_outbox_backlog_messages") == 0
    assert sample(text, "checkout_outbox_oldest_undelivered_age_seconds") == 0
    with app.app_context():
        from datetime import timedelta

        from app.models import WebhookEndpoint

        endpoint = WebhookEndpoint(
            merchant_id=merchant.id, url="https://hooks.example/", enabled_events=["*"]
        )
        event = MerchantEvent(merchant_id=merchant.id, type="payment.succeeded", data={})
        db.session.add_all([endpoint, event])
        db.session.flush()
        for age in (120, 5):
            db.session.add(
                Delivery(
                    event_id=event.id, endpoint_id=endpoint.id, created_at=utcnow() - timedelta(seconds=age)
                )
            )
        db.session.commit()
    text = scrape(client)
    assert sample(text, "checkout_outbox_backlog_messages") == 2
    assert 120 <= sample(text, "checkout_outbox_oldest_undelivered_age_seconds") < 130


def test_a_rolled_back_status_change_is_not_counted(app, client, merchant, sandbox_ctl):
    from app.models import TimelineEntry

    payment = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).json
    before = sample(scrape(client), "checkout_payment_status_changes_total", status="expired")
    with app.app_context():
        db.session.add(TimelineEntry(payment_id=payment["id"], type="payment.expired", source="api", data={}))
        db.session.flush()
        db.session.rollback()
    assert sample(scrape(client), "checkout_payment_status_changes_total", status="expired") == before


def test_remote_clients_need_the_token(app, client):
    remote = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/metrics", environ_base=remote).status_code == 403
    app.config["METRICS_TOKEN"] = "scrape-secret"
    try:
        assert client.get("/metrics").status_code == 403  # with a token, loopback needs it too
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong, environ_base=remote).status_code == 403
        right = {"Authorization": "Bearer scrape-secret"}
        assert client.get("/metrics", headers=right, environ_base=remote).status_code == 200
    finally:
        app.config["METRICS_TOKEN"] = None
