"""Webhook endpoint actions the API does not have yet: enable/disable and "send test event".

They sit next to the API's services (``app.notifications.endpoints``) in spirit and belong there
once the API offers them too; they reuse the outbox's message shape so that the worker sends a
test event like any other.
"""

from __future__ import annotations

from ..extensions import db
from ..merchant_events import new_message
from ..models import Event, WebhookEndpoint, new_id, utcnow

#: The type of the event "send test event" delivers (never emitted by a payment).
TEST_EVENT_TYPE = "webhook_endpoint.test"


def set_endpoint_enabled(endpoint: WebhookEndpoint, enabled: bool, *, by: str) -> None:
    """Enable or disable ``endpoint``; a disabled endpoint gets no new messages and its queued
    ones are failed unsent (as for an endpoint that answered 410). ``by`` (an email) goes into
    ``disabled_reason``. Commits."""
    endpoint.status = "enabled" if enabled else "disabled"
    endpoint.disabled_reason = None if enabled else f"Disabled in the dashboard by {by}."
    db.session.commit()


def send_test_event(endpoint: WebhookEndpoint) -> Event:
    """Queue a ``webhook_endpoint.test`` event to ``endpoint`` alone, signed and retried like
    any message; its ``data`` names the endpoint. Commits and returns the event."""
    now = utcnow()
    event = Event(
        id=new_id("evt"),
        merchant_id=endpoint.merchant_id,
        type=TEST_EVENT_TYPE,
        payment_id=None,
        refund_id=None,
        data={"object": "webhook_endpoint", "id": endpoint.id, "url": endpoint.url},
        created_at=now,
    )
    db.session.add(event)
    db.session.add(new_message(event, endpoint.id))
    db.session.commit()
    return event
