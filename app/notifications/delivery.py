"""Sending one webhook message, signed per the Standard Webhooks specification.

Spec: https://www.standardwebhooks.com/ ("Webhook headers", "Signature scheme"). Each request
carries ``webhook-id`` (the message id, the same on every retry so the receiver can
deduplicate), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per active secret, space-separated).
Signing uses the reference implementation (the ``standardwebhooks`` package).

Nothing here touches the database: the caller closes its transaction before :func:`send`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from standardwebhooks import Webhook

from ..errors import InvalidRequest
from ..url_guard import resolve_and_check

#: Seconds to wait for the merchant's server (connect and each read).
TIMEOUT = 15.0
#: How much of the response body is kept for the merchant to inspect.
RESPONSE_EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Message:
    """What to send: ``id`` (``msg_…``), the endpoint ``url``, the JSON ``body`` and the
    signing ``secrets`` (``whsec_…``, current first)."""

    id: str
    url: str
    body: str
    secrets: list[str]


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: HTTP ``status_code`` (None when no response came), ``latency_ms``,
    the first 1 KB of the response body and an ``error`` description (None on any response)."""

    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        """Only a 2xx answer counts; a redirect (3xx) is a failure and is not followed."""
        return self.status_code is not None and 200 <= self.status_code < 300


def signature_headers(message: Message, timestamp: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``message`` sent at ``timestamp`` (aware)."""
    signatures = [Webhook(secret).sign(message.id, timestamp, message.body) for secret in message.secrets]
    return {
        "webhook-id": message.id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def send(message: Message, *, allow_private: bool, timeout: float = TIMEOUT) -> Outcome:
    """POST ``message`` once, after re-checking that its URL resolves only to public addresses
    (DNS may have changed since registration; ``allow_private`` relaxes it for development).

    Redirects are not followed. Never raises for network trouble or a refused URL: those
    come back as an ``Outcome`` with ``status_code`` None and ``error`` set.
    """
    try:
        resolve_and_check(message.url, allow_private=allow_private)
    except InvalidRequest as exc:
        return Outcome(None, 0, None, exc.message[:500])
    headers = {
        "content-type": "application/json",
        "user-agent": "hosted-checkout-webhooks/1.0",
        **signature_headers(message, datetime.now(UTC)),
    }
    started = time.monotonic()
    try:
        with requests.post(
            message.url,
            data=message.body.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True)
            status = response.status_code
    except (requests.RequestException, OSError) as exc:
        return Outcome(None, _ms_since(started), None, f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status, _ms_since(started), excerpt.decode("utf-8", "replace"), None)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
