"""The dashboard's "send test event" for a webhook endpoint (the API has no such action; enable
and disable are ``app.notifications.endpoints.set_endpoint_enabled``, shared with the API). It
reuses the outbox's message shape so that the worker sends a test event like any other.
"""

from __future__ import annotations

from ..extensions import db
from ..merchant_events import new_message
from ..models import MerchantEvent, WebhookEndpoint, new_id, utcnow

#: The type of the event "send test event" delivers (never emitted by a payment).
TEST_EVENT_TYPE = "webhook_endpoint.test"


def send_test_event(endpoint: WebhookEndpoint) -> MerchantEvent:
    """Queue a ``webhook_endpoint.test`` event to ``endpoint`` alone, signed and retried like
    any message; its ``data`` names the endpoint. Adds both to the unit of work; returns the event."""
    now = utcnow()
    event = MerchantEvent(
        id=new_id("evt"),
        merchant_id=endpoint.merchant_id,
        type=TEST_EVENT_TYPE,
        payment_id=None,
        refund_id=None,
        data={"object": "webhook_endpoint", "id": endpoint.id, "url": endpoint.url},
        created_at=now,
        livemode=endpoint.livemode,
    )
    db.session.add(event)
    db.session.add(new_message(event, endpoint.id))
    return event
