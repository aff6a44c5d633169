"""Webhook endpoints: register, update, enable or disable, delete, rotate the signing secret.

Secrets follow the Standard Webhooks specification (https://www.standardwebhooks.com/, "Signature
scheme"): ``whsec_`` + base64 of 32 bytes, used as an HMAC-SHA256 key. They are derived, never
stored: ``HMAC-SHA256(SECRET_KEY, "webhook-endpoint:<endpoint id>:<version>")``, with only the
integer ``secret_version`` in the database (so web and worker processes must share
``SECRET_KEY``; changing it changes every endpoint's secret). A secret is never logged and is
returned only at creation and at rotation (and on an idempotent replay of those).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from ..errors import InvalidRequest
from ..extensions import db
from ..models import Merchant, WebhookEndpoint, new_id, utcnow
from ..url_guard import check_webhook_url
from .endpoint_schemas import parse_webhook_endpoint_create, parse_webhook_endpoint_update
from .settings import NotificationSettings

#: How long the previous secret keeps signing after a rotation.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)


def derive_secret(endpoint_id: str, version: int, signing_key: bytes) -> str:
    """The signing secret of version ``version`` of endpoint ``endpoint_id``: ``whsec_`` + base64
    of HMAC-SHA256(``signing_key`` (``SECRET_KEY``), ``"webhook-endpoint:<id>:<version>"``),
    32 bytes (the spec asks for 24-64)."""
    digest = hmac.new(signing_key, f"webhook-endpoint:{endpoint_id}:{version}".encode(), hashlib.sha256)
    return "whsec_" + base64.b64encode(digest.digest()).decode()


def current_secret(endpoint: WebhookEndpoint, settings: NotificationSettings) -> str:
    """``endpoint``'s current signing secret."""
    return derive_secret(endpoint.id, endpoint.secret_version, settings.signing_key)


def _enabled_events(events: list[str]) -> list[str]:
    """``["*"]`` if it is among ``events``, else ``events`` without repeats, in order."""
    return ["*"] if "*" in events else list(dict.fromkeys(events))


def create_endpoint(
    merchant: Merchant, body: object, settings: NotificationSettings, *, livemode: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint for ``merchant`` from a request ``body``, receiving the
    events of mode ``livemode``, in the caller's unit of work (:func:`app.db.unit_of_work`).

    ``body``: ``{url, enabled_events: [...] or ["*"], description?}`` (see
    ``parse_webhook_endpoint_create``). The URL must be https and resolve only to public
    addresses (``app.url_guard``; ``WEBHOOK_ALLOW_PRIVATE_URLS`` relaxes this for development).
    Returns ``(endpoint, secret)``. Raises ``InvalidRequest`` (``param`` names the field).
    """
    parsed = parse_webhook_endpoint_create(body)
    check_webhook_url(parsed.url, allow_private=settings.allow_private_urls)
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        merchant_id=merchant.id,
        url=parsed.url,
        enabled_events=_enabled_events(parsed.enabled_events),
        description=parsed.description,
        secret_version=1,
        status="enabled",
        created_at=utcnow(),
        livemode=livemode,
    )
    db.session.add(endpoint)
    return endpoint, current_secret(endpoint, settings)


def update_endpoint(
    endpoint: WebhookEndpoint, body: object, settings: NotificationSettings
) -> WebhookEndpoint:
    """Change ``endpoint`` from a request ``body`` (Stripe's "update a webhook endpoint"), in the
    caller's unit of work.

    ``body``: any of ``url`` (checked as at creation), ``enabled_events``, ``description``
    (``null`` clears it) and ``disabled`` (true/false, see :func:`set_endpoint_enabled`);
    members left out keep their value. The signing secret does not change. Raises
    ``InvalidRequest`` (``param`` names the field); the unit of work then changes nothing.
    """
    parsed = parse_webhook_endpoint_update(body)
    given = parsed.model_fields_set
    if parsed.url is not None:
        check_webhook_url(parsed.url, allow_private=settings.allow_private_urls)
        endpoint.url = parsed.url
    elif "url" in given:
        raise InvalidRequest("Invalid url: must be a string.", param="url")
    if parsed.enabled_events is not None:
        endpoint.enabled_events = _enabled_events(parsed.enabled_events)
    elif "enabled_events" in given:
        raise InvalidRequest("Invalid enabled_events: must be a list of event types.", param="enabled_events")
    if "description" in given:
        endpoint.description = parsed.description
    if parsed.disabled is not None:
        set_endpoint_enabled(endpoint, not parsed.disabled, reason="Disabled through the API.")
    return endpoint


def set_endpoint_enabled(endpoint: WebhookEndpoint, enabled: bool, *, reason: str) -> None:
    """Enable or disable ``endpoint``; a disabled endpoint gets no new messages and its queued
    ones are failed unsent (as for an endpoint that answered 410). ``reason`` (who disabled it)
    becomes ``disabled_reason``. In the caller's unit of work."""
    endpoint.status = "enabled" if enabled else "disabled"
    endpoint.disabled_reason = None if enabled else reason


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Delete ``endpoint`` (kept as ``deleted`` for the delivery history); its queued messages
    are failed by the worker without being sent. In the caller's unit of work."""
    endpoint.status = "deleted"


def rotate_secret(endpoint: WebhookEndpoint, settings: NotificationSettings) -> str:
    """Give ``endpoint`` a new secret (the next version) and return it; the old one also signs
    for 24 hours, so each message carries two signatures meanwhile (the spec allows several,
    space-separated). In the caller's unit of work."""
    endpoint.previous_secret_version = endpoint.secret_version
    endpoint.previous_secret_expires_at = utcnow() + PREVIOUS_SECRET_LIFETIME
    endpoint.secret_version = endpoint.secret_version + 1
    return current_secret(endpoint, settings)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime, settings: NotificationSettings) -> list[str]:
    """The secrets that sign a message sent at ``now``: the current one, and the previous one
    while it has not expired."""
    keys = [current_secret(endpoint, settings)]
    previous, expires = endpoint.previous_secret_version, endpoint.previous_secret_expires_at
    if previous is not None and expires is not None and now < expires:
        keys.append(derive_secret(endpoint.id, previous, settings.signing_key))
    return keys
