"""Validation of the merchant API's webhook endpoint bodies (``/api/v1/webhook_endpoints``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictStr

from app.merchant_events import EVENT_TYPES
from app.request_bodies import MAX_URL_LENGTH, StrictModel, parse_model


class WebhookEndpointCreate(StrictModel):
    """A validated ``POST /api/v1/webhook_endpoints`` body (see
    ``parse_webhook_endpoint_create``)."""

    url: StrictStr = Field(min_length=1, max_length=MAX_URL_LENGTH)
    enabled_events: list[Literal["*", *EVENT_TYPES]] = Field(min_length=1)  # type: ignore[valid-type]
    description: StrictStr | None = Field(default=None, max_length=500)


class WebhookEndpointUpdate(StrictModel):
    """A validated ``POST /api/v1/webhook_endpoints/<id>`` body: any of the create fields, and
    ``disabled`` (see ``parse_webhook_endpoint_update``)."""

    url: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    enabled_events: list[Literal["*", *EVENT_TYPES]] | None = Field(default=None, min_length=1)  # type: ignore[valid-type]
    description: StrictStr | None = Field(default=None, max_length=500)
    disabled: StrictBool | None = None


def parse_webhook_endpoint_create(body: object) -> WebhookEndpointCreate:
    """Validate a webhook endpoint body: ``url`` (string, at most 2048 chars; reachability is
    checked by ``app.url_guard``), ``enabled_events`` (non-empty list of ``"*"`` or members of
    ``EVENT_TYPES``) and optional ``description`` (at most 500 chars).

    Raises ``InvalidRequest`` as ``parse_payment_create`` does.
    """
    return parse_model(WebhookEndpointCreate, body)


def parse_webhook_endpoint_update(body: object) -> WebhookEndpointUpdate:
    """Validate a webhook endpoint update: any of ``url``, ``enabled_events``, ``description``
    (as at creation; ``description: null`` clears it) and ``disabled`` (boolean). Members left
    out keep their value (``model_fields_set`` tells which were given).

    Raises ``InvalidRequest`` as ``parse_payment_create`` does.
    """
    return parse_model(WebhookEndpointUpdate, body)
