"""Small helpers for tests: request bodies and polling."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def payment_body(**overrides: Any) -> dict[str, Any]:
    """A valid create-payment request body, with ``overrides`` applied."""
    body: dict[str, Any] = {
        "order_id": "A-1001",
        "currency": "usd",
        "line_items": [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}],
        "customer_email": "ada@example.com",
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
        "metadata": {"cart": "c_77"},
    }
    body.update(overrides)
    return body


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it: ``t=<unix>,v1=<hex HMAC-SHA256 of
    "t.payload">`` (Stripe docs, "Verify webhook signatures manually")."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


@contextmanager
def gateway_replaced(app: Any, *, api_base: str, secret_key: str = "sk_test_suite") -> Iterator[None]:
    """Within the block, the app talks to Stripe at ``api_base`` with ``secret_key`` (no retries),
    e.g. a closed port to play "Stripe is down", or a key Stripe refuses."""
    from app.stripe_gateway import StripeGateway, StripeGateways

    working = app.extensions["stripe_gateways"]
    app.extensions["stripe_gateways"] = StripeGateways(
        StripeGateway(
            secret_key, api_base=api_base, webhook_secrets=["unused"], timeout=1, max_network_retries=0
        )
    )
    try:
        yield
    finally:
        app.extensions["stripe_gateways"] = working
