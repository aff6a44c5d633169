"""Merchant events as Stripe shapes them: ``data.object`` holds the object, ``data.previous_attributes``
what the change replaced, and every event names its ``api_version``."""

from __future__ import annotations

from app.merchant_events import API_VERSION
from app.notifications.worker import Worker
from tests.notifications.conftest import notify_app  # noqa: F401  (fixtures)
from tests.payments.conftest import shop, stripe_client  # noqa: F401  (fixtures)


def events_of(client, merchant, event_type):
    response = client.get(f"/api/v1/events?type={event_type}", headers=merchant.headers)
    return response.get_json()["data"]


def test_a_payment_event_holds_the_payment_and_what_changed(shop):  # noqa: F811
    payment = shop.paid()
    (event,) = events_of(shop.client, shop.merchant, "payment.succeeded")
    assert event["api_version"] == API_VERSION
    obj = event["data"]["object"]
    assert obj == shop.get(payment["id"]) | {
        "fulfilled_at": obj["fulfilled_at"],
        "updated_at": obj["updated_at"],
    }
    assert obj["object"] == "payment" and obj["status"] == "succeeded"
    previous = event["data"]["previous_attributes"]
    assert previous["status"] in ("open", "processing") and previous["paid_at"] is None
    assert all(obj[key] != value for key, value in previous.items())
    assert "id" not in previous and "amount_total" not in previous
    retrieved = shop.client.get(f"/api/v1/events/{event['id']}", headers=shop.merchant.headers).get_json()
    assert retrieved == event


def test_a_refund_event_holds_the_refund_and_its_previous_status(shop):  # noqa: F811
    payment = shop.paid()
    refund = shop.refund(payment["id"], amount=1000).get_json()
    (event,) = events_of(shop.client, shop.merchant, "refund.succeeded")
    assert event["data"]["object"]["id"] == refund["id"] and event["data"]["object"]["object"] == "refund"
    assert event["data"]["object"]["status"] == "succeeded"
    assert event["data"]["previous_attributes"]["status"] == "pending"
    assert event["api_version"] == API_VERSION


def test_the_webhook_body_is_the_api_event(shop, receiver, notify_app):  # noqa: F811
    shop.client.post(
        "/api/v1/webhook_endpoints",
        json={"url": receiver.url, "enabled_events": ["payment.succeeded"]},
        headers=shop.merchant.headers,
    )
    shop.paid()
    with notify_app.app_context():
        Worker(name="test").run_once()
    (received,) = receiver.received
    (event,) = events_of(shop.client, shop.merchant, "payment.succeeded")
    assert received.event == event and "object" in received.event["data"]
