"""The API's JSON representation of events, webhook endpoints and delivery attempts."""

from __future__ import annotations

from typing import Any

from ..models import Delivery, DeliveryAttempt, MerchantEvent, WebhookEndpoint
from ..payments.serializers import rfc3339


def event_to_dict(event: MerchantEvent) -> dict[str, Any]:
    """The event object, shaped as Stripe's events (https://docs.stripe.com/api/events/object):
    ``{"id", "object": "event", "livemode", "type", "api_version", "created_at", "data": {"object": the
    payment or refund as the API returned it then, "previous_attributes": {member: value
    before the change}}}``; ``previous_attributes`` is left out when the event changed no
    earlier state.

    ``data`` also repeats the object's members beside ``object`` (``data.id``,
    ``data.status``...), as events carried them before ``data.object`` existed, so that
    receivers written then keep working; they are deprecated in favour of ``data.object``.

    This is also, byte for byte (``json.dumps``), the body of every webhook message.
    """
    data: dict[str, Any] = {**event.data, "object": event.data}
    if event.previous_attributes is not None:
        data["previous_attributes"] = event.previous_attributes
    return {
        "id": event.id,
        "object": "event",
        "livemode": event.livemode,
        "type": event.type,
        "api_version": event.api_version,
        "created_at": rfc3339(event.created_at),
        "data": data,
    }


def endpoint_to_dict(endpoint: WebhookEndpoint, *, secret: str | None = None) -> dict[str, Any]:
    """The webhook endpoint object; ``secret`` is included only when given (creation, rotation)."""
    body: dict[str, Any] = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "livemode": endpoint.livemode,
        "url": endpoint.url,
        "enabled_events": endpoint.enabled_events,
        "description": endpoint.description,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "flagged_at": rfc3339(endpoint.flagged_at),
        "created_at": rfc3339(endpoint.created_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def attempt_to_dict(attempt: DeliveryAttempt) -> dict[str, Any]:
    """One attempt: time, HTTP status (None without a response), latency in ms, first 1 KB, error."""
    return {
        "attempted_at": rfc3339(attempt.attempted_at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_body": attempt.response_body,
        "error": attempt.error,
    }


def delivery_to_dict(delivery: Delivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    """A message (one event to one endpoint; ``id`` is its ``webhook-id``) with its attempts, oldest
    first; ``livemode`` is its event's."""
    return {
        "id": delivery.id,
        "object": "event_delivery",
        "livemode": delivery.event.livemode,
        "event_id": delivery.event_id,
        "endpoint_id": delivery.endpoint_id,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": rfc3339(delivery.next_attempt_at)
        if delivery.status in ("pending", "retrying")
        else None,
        "attempts": [attempt_to_dict(attempt) for attempt in attempts],
    }
