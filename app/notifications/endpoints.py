"""Webhook endpoints: register, list, delete, rotate the signing secret.

Secrets follow the Standard Webhooks specification (https://www.standardwebhooks.com/, "Signature
scheme"): ``whsec_`` + base64 of 32 random bytes, used as an HMAC-SHA256 key. Because signing
needs the raw key, the secret is stored as is in ``webhook_endpoints.secret`` (a hash would be
useless); it is never logged and only returned once, at creation and at rotation.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Merchant, WebhookEndpoint, new_id, utcnow
from ..payments.schemas import parse_webhook_endpoint_create
from ..url_guard import check_webhook_url

SECRET_BYTES = 32
#: How long the previous secret keeps signing after a rotation.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes (the spec asks for 24-64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def create_endpoint(merchant: Merchant, body: object) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint for ``merchant`` from a request ``body``; commits.

    ``body``: ``{url, enabled_events: [...] or ["*"], description?}`` (see
    ``parse_webhook_endpoint_create``). The URL must be https and resolve only to public
    addresses (``app.url_guard``; ``WEBHOOK_ALLOW_PRIVATE_URLS`` relaxes this for development).
    Returns ``(endpoint, secret)``. Raises ``InvalidRequest`` (``param`` names the field).
    """
    parsed = parse_webhook_endpoint_create(body)
    check_webhook_url(parsed.url, allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_URLS"])
    events = ["*"] if "*" in parsed.enabled_events else list(dict.fromkeys(parsed.enabled_events))
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        merchant_id=merchant.id,
        url=parsed.url,
        enabled_events=events,
        description=parsed.description,
        secret=secret,
        status="enabled",
        created_at=utcnow(),
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint, secret


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Delete ``endpoint`` (kept as ``deleted`` for the delivery history); its queued messages
    are failed by the worker without being sent. Commits."""
    endpoint.status = "deleted"
    db.session.commit()


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """Give ``endpoint`` a new secret and return it; the old one also signs for 24 hours, so
    each message carries two signatures meanwhile (the spec allows several, space-separated).
    Commits."""
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + PREVIOUS_SECRET_LIFETIME
    endpoint.secret = secret
    db.session.commit()
    return secret


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign a message sent at ``now``: the current one, and the previous one
    while it has not expired."""
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        keys.append(endpoint.previous_secret)
    return keys


def subscribed_endpoints(merchant_id: str, event_type: str) -> list[WebhookEndpoint]:
    """The merchant's enabled endpoints whose ``enabled_events`` include ``event_type`` or ``*``."""
    endpoints = db.session.scalars(
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.status == "enabled")
        .order_by(WebhookEndpoint.created_at)
    ).all()
    return [e for e in endpoints if "*" in e.enabled_events or event_type in e.enabled_events]
