"""Notification code runs on settings passed in, without an application context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import has_app_context

from app.models import WebhookEndpoint
from app.notifications.endpoints import signing_secrets
from app.notifications.settings import NotificationSettings
from app.notifications.worker import Worker

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def _endpoint(previous_expires_at: datetime | None) -> WebhookEndpoint:
    return WebhookEndpoint(
        id="we_1",
        secret_version=2,
        previous_secret_version=1 if previous_expires_at else None,
        previous_secret_expires_at=previous_expires_at,
    )


def test_settings_are_read_from_the_config_as_the_settings_say():
    settings = NotificationSettings.from_config(
        {
            "SECRET_KEY": "k",
            "WEBHOOK_ALLOW_PRIVATE_URLS": True,
            "WEBHOOK_RETRY_SCHEDULE": [5, 300],
            "WEBHOOK_ATTEMPT_DEADLINE": 2.5,
            "WORKER_CONCURRENCY": 8,
            "EVENT_BROKER_URL": "nats://127.0.0.1:4222",
            "EVENT_BROKER_EXCHANGE": None,
        }
    )
    assert settings == NotificationSettings(
        signing_key=b"k",
        allow_private_urls=True,
        retry_schedule=(5, 300),
        attempt_deadline=2.5,
        concurrency=8,
        broker_url="nats://127.0.0.1:4222",
        broker_exchange="payments",
        broker_timeout=5.0,
    )


def test_signing_secrets_need_no_application_context_and_follow_the_key():
    assert not has_app_context()
    endpoint = _endpoint(previous_expires_at=NOW + timedelta(hours=1))
    first = signing_secrets(endpoint, NOW, NotificationSettings(signing_key=b"one"))
    assert len(first) == 2 and len(set(first)) == 2  # current and previous, while it lasts
    assert all(secret.startswith("whsec_") for secret in first)
    assert signing_secrets(endpoint, NOW, NotificationSettings(signing_key=b"one")) == first
    assert signing_secrets(endpoint, NOW, NotificationSettings(signing_key=b"two"))[0] != first[0]
    assert (
        signing_secrets(endpoint, NOW + timedelta(hours=2), NotificationSettings(signing_key=b"one"))
        == first[:1]
    )


def test_a_worker_given_settings_needs_no_application_context():
    settings = NotificationSettings(signing_key=b"k", attempt_deadline=30.0, concurrency=2)
    worker = Worker(name="w", settings=settings)
    assert worker.lease == timedelta(seconds=90)  # three attempt deadlines, more than 60 s
    assert worker.settings.concurrency == 2
    overridden = Worker(name="w", settings=settings, deadline=1.0, concurrency=6)
    assert overridden.lease == timedelta(seconds=60)
    assert (overridden.settings.attempt_deadline, overridden.settings.concurrency) == (1.0, 6)
