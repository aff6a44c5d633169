"""``/api/v1/webhook_endpoints``: register, list, retrieve, update, delete, and rotate the secret.

The signing ``secret`` is in the response only when it is created (POST, rotate_secret). The
idempotency store keeps those responses with ``secret: null``; a replay fills in the endpoint's
current secret (:func:`refill_secret`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, g, request

from ..db import unit_of_work
from ..errors import NotFound
from ..extensions import db
from ..models import WebhookEndpoint
from ..notifications.endpoints import (
    create_endpoint,
    current_secret,
    delete_endpoint,
    rotate_secret,
    update_endpoint,
)
from ..notifications.serializers import endpoint_to_dict
from ..notifications.settings import current_settings
from ..responses import json_response
from . import bp
from .pagination import each, paginate
from .payments import idempotent, json_body


def get_endpoint_or_404(endpoint_id: str) -> WebhookEndpoint:
    """The current merchant's endpoint ``endpoint_id`` (not deleted) in the key's mode; else a 404."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or _not_visible(endpoint):
        raise NotFound(f"No such webhook endpoint: {endpoint_id!r}.", param="id")
    return endpoint


def refill_secret(body: dict[str, Any]) -> dict[str, Any]:
    """``on_replay`` hook: a replayed create/rotate response gets the endpoint's current secret
    (stored as ``null``); left ``null`` if the endpoint is gone or no longer the merchant's."""
    if "secret" not in body or not isinstance(body.get("id"), str):
        return body
    endpoint = db.session.get(WebhookEndpoint, body["id"])
    if endpoint is None or _not_visible(endpoint):
        return body
    return {**body, "secret": current_secret(endpoint, current_settings())}


def _not_visible(endpoint: WebhookEndpoint) -> bool:
    """Whether the request may not see ``endpoint``: deleted, another merchant's or the other
    mode's."""
    return (
        endpoint.merchant_id != g.merchant.id
        or endpoint.livemode != g.livemode
        or endpoint.status == "deleted"
    )


@bp.post("/webhook_endpoints")
def create_webhook_endpoint() -> Response:
    """Register an endpoint ``{url, enabled_events, description?}``; 201 with its ``secret``."""
    merchant, livemode, settings = g.merchant, g.livemode, current_settings()
    body = json_body()

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            endpoint, secret = create_endpoint(merchant, body, settings, livemode=livemode)
        return 201, endpoint_to_dict(endpoint, secret=secret)

    return idempotent(work, on_replay=refill_secret, body=request.get_data())


@bp.get("/webhook_endpoints")
def list_webhook_endpoints() -> Response:
    """The merchant's endpoints (not deleted), newest first (list parameters: :mod:`app.api.pagination`)."""
    query = sa.select(WebhookEndpoint).where(
        WebhookEndpoint.merchant_id == g.merchant.id,
        WebhookEndpoint.livemode == g.livemode,
        WebhookEndpoint.status != "deleted",
    )
    return json_response(200, paginate(query, WebhookEndpoint, each(endpoint_to_dict)))


@bp.get("/webhook_endpoints/<endpoint_id>")
def retrieve_webhook_endpoint(endpoint_id: str) -> Response:
    """One endpoint (without its secret)."""
    return json_response(200, endpoint_to_dict(get_endpoint_or_404(endpoint_id)))


@bp.post("/webhook_endpoints/<endpoint_id>")
def update_webhook_endpoint(endpoint_id: str) -> Response:
    """Change ``url``, ``enabled_events``, ``description`` or ``disabled`` (``update_endpoint``);
    200 with the endpoint, without its secret (which does not change)."""
    endpoint, settings = get_endpoint_or_404(endpoint_id), current_settings()
    body = json_body()

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            update_endpoint(endpoint, body, settings)
        return 200, endpoint_to_dict(endpoint)

    return idempotent(work, body=request.get_data())


@bp.delete("/webhook_endpoints/<endpoint_id>")
def delete_webhook_endpoint(endpoint_id: str) -> Response:
    """Delete an endpoint: ``{"id", "object": "webhook_endpoint", "deleted": true}``."""
    endpoint = get_endpoint_or_404(endpoint_id)
    with unit_of_work():
        delete_endpoint(endpoint)
    return json_response(200, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})


@bp.post("/webhook_endpoints/<endpoint_id>/rotate_secret")
def rotate_webhook_secret(endpoint_id: str) -> Response:
    """A new signing secret (in the response, once); the old one keeps signing for 24 hours."""
    endpoint, settings = get_endpoint_or_404(endpoint_id), current_settings()

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            secret = rotate_secret(endpoint, settings)
        return 200, endpoint_to_dict(endpoint, secret=secret)

    return idempotent(work, on_replay=refill_secret)
