"""A Stripe stand-in for the benchmark: answers after a fixed latency, using little CPU.

One asyncio process speaking just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies) for
the SDK's ``requests`` pool. Endpoints, with JSON shaped like Stripe's:

- ``POST /v1/checkout/sessions`` (form-encoded, as the SDK sends it): a new ``open`` session;
- ``GET /v1/checkout/sessions/<id>``: that session, or Stripe's 404 ``resource_missing``;
- ``GET /v1/events``: an empty list page (the worker's reconciliation asks for it);
- ``GET /_bench/stats``: ``{"requests": n}``, Stripe requests answered so far, without delay.

Every Stripe endpoint answers after ``--latency`` seconds (default 0.3), so a client's
throughput is bounded by its concurrency / latency (the I/O limit). Not a simulator: no
payments, no idempotency replay (the benchmark never retries), nothing persisted.

Run: ``python -m bench.stripe_standin --port 12199 --latency 0.3``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from bench import tinyhttp

SESSIONS: dict[str, dict[str, Any]] = {}
STATS = {"requests": 0}


def _session(form: dict[str, str]) -> dict[str, Any]:
    """A Checkout Session object from the create call's form fields (amounts in minor units)."""
    session_id = "cs_test_" + secrets.token_hex(16)
    amount_total = 0
    index = 0
    while f"line_items[{index}][quantity]" in form:
        unit = int(form.get(f"line_items[{index}][price_data][unit_amount]", "0"))
        amount_total += unit * int(form[f"line_items[{index}][quantity]"])
        index += 1
    metadata = {key[9:-1]: value for key, value in form.items() if key.startswith("metadata[")}
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": form.get("cancel_url"),
        "client_reference_id": form.get("client_reference_id"),
        "created": int(time.time()),
        "currency": form.get("line_items[0][price_data][currency]", "usd"),
        "customer_email": form.get("customer_email"),
        "expires_at": int(form.get("expires_at") or time.time() + 86400),
        "livemode": False,
        "metadata": metadata,
        "mode": form.get("mode", "payment"),
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": form.get("success_url"),
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
    }


def _missing(path: str) -> tuple[int, dict[str, Any]]:
    error = {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": f"No such object: {path}",
    }
    return 404, {"error": error}


def answer(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON body for one Stripe request."""
    path = path.split("?", 1)[0]
    if method == "POST" and path == "/v1/checkout/sessions":
        session = _session(dict(parse_qsl(body.decode())))
        SESSIONS[session["id"]] = session
        return 200, session
    if method == "GET" and path.startswith("/v1/checkout/sessions/"):
        found = SESSIONS.get(path.rsplit("/", 1)[1])
        return (200, found) if found else _missing(path)
    if method == "GET" and path == "/v1/events":
        return 200, {"object": "list", "data": [], "has_more": False, "url": "/v1/events"}
    return _missing(path)


def _handler(latency: float) -> tinyhttp.Handler:
    async def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/_bench/stats":
            return 200, dict(STATS)
        STATS["requests"] += 1
        await asyncio.sleep(latency)
        return answer(method, path, body)

    return handle


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds before each answer")
    args = parser.parse_args()
    asyncio.run(tinyhttp.serve(args.port, _handler(args.latency)))


if __name__ == "__main__":
    main()
