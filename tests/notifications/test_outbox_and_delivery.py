"""Signed notifications: the outbox, delivery, retries, 410, redirects, timeouts, resend."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask
from standardwebhooks import Webhook

from app.extensions import db
from app.models import Delivery, MerchantEvent, Payment, WebhookEndpoint
from app.notifications.outbox import status_counts
from app.notifications.worker import Worker
from app.payments.states import PaymentStatus
from app.payments.transitions import MoveOutcome, move
from tests.notifications.support import register


def drain(app: Flask, worker: Worker | None = None) -> int:
    with app.app_context():
        return (worker or Worker(name="test")).run_once()


def test_payment_succeeded_reaches_the_endpoint_signed_per_standard_webhooks(
    notify_app, client, merchant, receiver, make_payment, transition
):
    endpoint = register(client, merchant, receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    payment_id = make_payment(merchant.id)
    transition(payment_id, PaymentStatus.SUCCEEDED)

    assert drain(notify_app) == 1

    assert len(receiver.received) == 1
    got = receiver.received[0]
    event = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert event["type"] == "payment.succeeded"
    assert event["object"] == "event" and event["id"].startswith("evt_")
    assert event["data"]["id"] == payment_id and event["data"]["status"] == "succeeded"
    assert got.webhook_id.startswith("msg_")
    assert client.get(f"/api/v1/events/{event['id']}", headers=merchant.headers).json == event


def test_tampered_body_fails_verification(notify_app, client, merchant, receiver, make_payment, transition):
    endpoint = register(client, merchant, receiver.url)
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    got = receiver.received[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint["secret"]).verify(got.body.replace("succeeded", "failed"), got.headers)


def test_only_merchant_facing_changes_notify_and_only_subscribed_endpoints(
    notify_app, client, merchant, receiver, make_payment, transition
):
    register(client, merchant, receiver.url, ["payment.failed"])
    transition(make_payment(merchant.id, "A-1"), PaymentStatus.SUCCEEDED)  # also records payment.fulfilled
    transition(make_payment(merchant.id, "A-2"), PaymentStatus.FAILED)
    drain(notify_app)

    types = [e["type"] for e in client.get("/api/v1/events", headers=merchant.headers).json["data"]]
    assert types == ["payment.failed", "payment.succeeded"]
    assert [r.event["type"] for r in receiver.received] == ["payment.failed"]


def test_a_rolled_back_change_emits_nothing(notify_app, client, merchant, receiver, make_payment):
    register(client, merchant, receiver.url)
    payment_id = make_payment(merchant.id)
    with notify_app.app_context():
        assert (
            move(db.session.get_one(Payment, payment_id), PaymentStatus.SUCCEEDED, source="worker")
            is MoveOutcome.MOVED
        )
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MerchantEvent)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    assert drain(notify_app) == 0
    assert receiver.received == []


def test_endpoint_down_then_up_gets_the_message_with_the_same_webhook_id(
    notify_app, client, merchant, receiver, make_payment, transition
):
    register(client, merchant, receiver.url)
    receiver.replies = [500, 503]
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)

    for _ in range(3):
        drain(notify_app)

    assert len(receiver.received) == 3
    assert len({r.webhook_id for r in receiver.received}) == 1
    event_id = receiver.received[0].event["id"]
    deliveries = client.get(f"/api/v1/events/{event_id}/deliveries", headers=merchant.headers).json
    (message,) = deliveries["data"]
    assert message["id"] == receiver.received[0].webhook_id
    assert message["status"] == "succeeded"
    assert [a["status_code"] for a in message["attempts"]] == [500, 503, 200]
    assert message["attempts"][0]["response_body"] == "reply 500"
    assert all(a["latency_ms"] >= 0 for a in message["attempts"])


def test_a_redirect_is_a_failure_and_is_retried_not_followed(
    notify_app, client, merchant, receiver, make_payment, transition
):
    register(client, merchant, receiver.url)
    receiver.replies = [302]
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    with notify_app.app_context():
        assert status_counts()["retrying"] == 0  # retried at once: the schedule is [0, 0, 0]
        (delivery,) = db.session.scalars(sa.select(Delivery)).all()
        assert delivery.status == "succeeded" and delivery.attempt_count == 2
    assert len(receiver.received) == 2


def test_a_timeout_is_recorded_and_retried(notify_app, client, merchant, receiver, make_payment, transition):
    endpoint = register(client, merchant, receiver.url)
    receiver.replies = [("sleep", 1.5)]
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app, Worker(name="impatient", deadline=0.3))

    event_id = receiver.received[0].event["id"]
    (message,) = client.get(f"/api/v1/events/{event_id}/deliveries", headers=merchant.headers).json["data"]
    first, second = message["attempts"]
    assert first["status_code"] is None and "Timeout" in first["error"]
    assert second["status_code"] == 200
    assert message["status"] == "succeeded"
    assert endpoint["id"] == message["endpoint_id"]


def test_410_gone_disables_the_endpoint(notify_app, client, merchant, receiver, make_payment, transition):
    endpoint = register(client, merchant, receiver.url)
    receiver.default = 410
    transition(make_payment(merchant.id, "A-1"), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    transition(make_payment(merchant.id, "A-2"), PaymentStatus.SUCCEEDED)
    drain(notify_app)

    assert len(receiver.received) == 1
    shown = client.get(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=merchant.headers).json
    assert shown["status"] == "disabled"
    with notify_app.app_context():
        assert status_counts() == {"pending": 0, "retrying": 0, "succeeded": 0, "failed": 1}


def test_after_the_last_retry_the_message_fails_and_the_endpoint_is_flagged(
    notify_app, client, merchant, receiver, make_payment, transition
):
    endpoint = register(client, merchant, receiver.url)
    notify_app.config["WEBHOOK_RETRY_SCHEDULE"] = [0]
    receiver.default = 500
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    for _ in range(3):
        drain(notify_app)

    assert len(receiver.received) == 2  # the first attempt and one retry
    with notify_app.app_context():
        assert status_counts()["failed"] == 1
    shown = client.get(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=merchant.headers).json
    assert shown["status"] == "enabled" and shown["flagged_at"] is not None


def test_retries_wait_for_the_schedule(notify_app, client, merchant, receiver, make_payment, transition):
    register(client, merchant, receiver.url)
    notify_app.config["WEBHOOK_RETRY_SCHEDULE"] = [3600]
    receiver.replies = [500]
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    assert drain(notify_app) == 0
    with notify_app.app_context():
        (delivery,) = db.session.scalars(sa.select(Delivery)).all()
        assert delivery.status == "retrying"
        wait = (delivery.next_attempt_at - delivery.updated_at).total_seconds()
        assert 3600 * 0.9 - 1 <= wait <= 3600 * 1.1 + 1


def test_resend_queues_another_attempt_with_the_same_webhook_id(
    notify_app, client, merchant, receiver, make_payment, transition
):
    register(client, merchant, receiver.url)
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    event_id = receiver.received[0].event["id"]

    response = client.post(f"/api/v1/events/{event_id}/resend", headers=merchant.headers)
    assert response.status_code == 202
    assert response.json["data"][0]["status"] == "pending"
    drain(notify_app)

    assert [r.webhook_id for r in receiver.received] == [receiver.received[0].webhook_id] * 2


def test_after_rotation_both_secrets_verify_for_a_while(
    notify_app, client, merchant, receiver, make_payment, transition
):
    endpoint = register(client, merchant, receiver.url)
    rotated = client.post(
        f"/api/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", headers=merchant.headers
    ).json
    assert rotated["secret"] != endpoint["secret"]
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)

    got = receiver.received[0]
    Webhook(endpoint["secret"]).verify(got.body, got.headers)
    Webhook(rotated["secret"]).verify(got.body, got.headers)


def test_a_deleted_endpoint_gets_nothing(notify_app, client, merchant, receiver, make_payment, transition):
    endpoint = register(client, merchant, receiver.url)
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    assert client.delete(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=merchant.headers).json[
        "deleted"
    ]
    drain(notify_app)
    assert receiver.received == []
    with notify_app.app_context():
        assert db.session.get_one(WebhookEndpoint, endpoint["id"]).status == "deleted"


def _rows_containing(app: Flask, needle: str) -> list[str]:
    """``table.column`` of every stored value (any table) whose text contains ``needle``."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                found += [f"{table.name}.{col}" for col, value in row.items() if needle in str(value)]
        db.session.rollback()
    return found


def test_signing_secrets_are_stored_nowhere_and_an_idempotent_replay_shows_the_current_one(
    notify_app, client, merchant, receiver, make_payment, transition
):
    headers = {**merchant.headers, "Idempotency-Key": "create-endpoint-1"}
    body = {"url": receiver.url, "enabled_events": ["*"]}
    created = client.post("/api/v1/webhook_endpoints", json=body, headers=headers)
    assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
    secret = created.json["secret"]
    assert _rows_containing(notify_app, secret) == []
    with notify_app.app_context():
        stored = db.session.scalars(sa.text("SELECT response_body FROM idempotency_keys")).all()
        endpoint_row = db.session.get_one(WebhookEndpoint, created.json["id"])
        assert endpoint_row.secret_version == 1
    assert [json.loads(s)["secret"] for s in stored] == [None]

    replayed = client.post("/api/v1/webhook_endpoints", json=body, headers=headers)
    assert replayed.status_code == 201
    assert replayed.json == created.json
    with notify_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1

    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    got = receiver.received[0]
    assert Webhook(replayed.json["secret"]).verify(got.body, got.headers)["type"] == "payment.succeeded"


def test_a_replayed_rotation_shows_the_current_secret_which_is_stored_nowhere(
    notify_app, client, merchant, receiver, make_payment, transition
):
    endpoint = register(client, merchant, receiver.url)
    headers = {**merchant.headers, "Idempotency-Key": "rotate-1"}
    path = f"/api/v1/webhook_endpoints/{endpoint['id']}/rotate_secret"
    rotated = client.post(path, headers=headers).json
    replayed = client.post(path, headers=headers).json
    assert replayed == rotated and rotated["secret"] != endpoint["secret"]
    for secret in (endpoint["secret"], rotated["secret"]):
        assert _rows_containing(notify_app, secret) == []
    with notify_app.app_context():
        row = db.session.get_one(WebhookEndpoint, endpoint["id"])
        assert (row.secret_version, row.previous_secret_version) == (2, 1)

    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    drain(notify_app)
    got = receiver.received[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(replayed["secret"]).verify(got.body, got.headers)
    Webhook(endpoint["secret"]).verify(got.body, got.headers)
