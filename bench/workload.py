"""What the benchmark sends: the order a merchant posts and Stripe's signed events.

One source for the load generator (:mod:`bench.loadgen` hands the body template to wrk) and
for the in-process statement counts (:mod:`bench.counting`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

#: The merchant's allowed domain: the order's success and cancel URLs point at it.
SHOP_DOMAIN = "shop.example"


def order_body(order_id: str) -> str:
    """A create-payment JSON body (2 × 1500 cents in usd) for ``order_id``."""
    return json.dumps(
        {
            "order_id": order_id,
            "currency": "usd",
            "line_items": [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}],
            "customer_email": "ada@example.com",
            "success_url": f"https://{SHOP_DOMAIN}/thanks",
            "cancel_url": f"https://{SHOP_DOMAIN}/cart",
        },
        separators=(",", ":"),
    )


def stripe_line_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    """Checkout Session ``line_items`` (inline ``price_data``) for an order body's line items."""
    return [
        {
            "price_data": {
                "currency": order["currency"],
                "unit_amount": item["unit_amount"],
                "product_data": {"name": item["name"]},
            },
            "quantity": item["quantity"],
        }
        for item in order["line_items"]
    ]


def stripe_event(event_id: str) -> str:
    """A Stripe event body (``payment_intent.created``: one the service records and does not act
    on, so ingest is verify + record, the floor's work) with id ``event_id``."""
    created = int(time.time())
    intent = {"id": "pi_" + event_id[4:], "object": "payment_intent", "status": "requires_payment_method"}
    event: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": created,
        "type": "payment_intent.created",
        "livemode": False,
        "data": {"object": intent},
    }
    return json.dumps(event, separators=(",", ":"))


def stripe_signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=<unix s>,v1=<hex HMAC-SHA256 of
    "t.payload" under the webhook secret>`` (Stripe, "Verify webhook signatures manually")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
