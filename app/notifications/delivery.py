"""Sending one webhook message, signed per the Standard Webhooks specification.

Spec: https://www.standardwebhooks.com/ ("Webhook headers", "Signature scheme"). Each request
carries ``webhook-id`` (the message id, the same on every retry so the receiver can
deduplicate), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per active secret, space-separated).
Signing uses the reference implementation (the ``standardwebhooks`` package).

The merchant's server is untrusted, so one attempt is boxed in:

- **One deadline for the whole attempt** (``WEBHOOK_ATTEMPT_DEADLINE``, default
  :data:`ATTEMPT_DEADLINE`): connecting, TLS, sending, and reading the status, the headers and
  the first :data:`RESPONSE_EXCERPT_BYTES` of the body. A per-read timeout is not enough: a
  server trickling one byte every few seconds never lets a single read time out.
- **Pinned to the vetted address**: the host is resolved once, by the SSRF check
  (``app.url_guard.resolve_and_check``), and the socket is opened to one of the addresses that
  passed it; the name is never resolved again (DNS rebinding). The ``Host`` header, TLS SNI and
  certificate verification still use the URL's host name.
- **Nothing escapes**: whatever goes wrong (refused URL, connection, TLS, a malformed or
  truncated answer, the deadline) comes back as a failed :class:`Outcome`.

Nothing here touches the database: the caller closes its transaction before :func:`send`.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPSConnection, IncompleteRead
from types import TracebackType
from urllib.parse import SplitResult, urlsplit

from standardwebhooks import Webhook

from ..errors import InvalidRequest
from ..url_guard import resolve_and_check

#: Seconds one attempt may take in all, from connecting to the last byte read; the default of
#: the ``WEBHOOK_ATTEMPT_DEADLINE`` setting. Keep it well below the worker's lease.
ATTEMPT_DEADLINE = 10.0
#: How much of the response body is read, and kept for the merchant to inspect.
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
    """How one attempt went: HTTP ``status_code`` (None when no complete answer came),
    ``latency_ms``, the first 1 KB of the response body and an ``error`` description (None on
    a complete answer)."""

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


def send(
    message: Message,
    *,
    allow_private: bool,
    deadline: float = ATTEMPT_DEADLINE,
    tls: ssl.SSLContext | None = None,
) -> Outcome:
    """POST ``message`` once, within ``deadline`` seconds in all, to an address of its URL's
    host that passed the SSRF check (``allow_private`` relaxes it for development: loopback).

    ``tls`` verifies https endpoints (default: the system's trusted CAs, checking the
    certificate against the URL's host name). Redirects are not followed. Never raises: a
    refused URL, a network or TLS failure, a malformed or truncated answer and the deadline
    all come back as an ``Outcome`` with ``status_code`` None and ``error`` set.
    """
    started = time.monotonic()
    try:
        addresses = resolve_and_check(message.url, allow_private=allow_private)
    except InvalidRequest as exc:
        return Outcome(None, 0, None, exc.message[:500])
    headers = {
        "content-type": "application/json",
        "user-agent": "hosted-checkout-webhooks/1.0",
        **signature_headers(message, datetime.now(UTC)),
    }
    try:
        status, excerpt = _post(
            urlsplit(message.url), addresses, message.body.encode(), headers, started + deadline, tls
        )
    except Exception as exc:  # whatever the endpoint does, it costs one failed attempt, no more
        return Outcome(None, _ms_since(started), None, f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status, _ms_since(started), excerpt.decode("utf-8", "replace"), None)


def _post(
    url: SplitResult,
    addresses: list[str],
    body: bytes,
    headers: dict[str, str],
    deadline: float,
    tls: ssl.SSLContext | None,
) -> tuple[int, bytes]:
    """POST ``body`` to ``url`` over a connection to one of ``addresses``, before ``deadline``
    (``time.monotonic()``); returns the status and up to ``RESPONSE_EXCERPT_BYTES`` of the body.
    Raises ``TimeoutError`` at the deadline, or whatever the connection raised."""
    host = url.hostname or ""
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    sock: socket.socket = _connect(addresses, port, deadline)
    try:
        with _Watchdog(sock, deadline) as watchdog:
            try:
                if https:
                    sock = (tls or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
                # http.client sends Host (with the port when not the default) from ``host``.
                connection = (HTTPSConnection if https else HTTPConnection)(host, port)
                connection.sock = sock  # already connected: http.client resolves nothing
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                excerpt = response.read(RESPONSE_EXCERPT_BYTES)
                if len(excerpt) < RESPONSE_EXCERPT_BYTES and response.length:
                    # Closed before the announced Content-Length: a broken answer, not an answer.
                    raise IncompleteRead(excerpt, response.length)
                return response.status, excerpt
            except Exception as exc:
                if watchdog.fired:
                    raise TimeoutError(f"no complete answer within the deadline ({exc!r})") from exc
                raise
    finally:
        sock.close()


def _connect(addresses: list[str], port: int, deadline: float) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that accepts one before ``deadline``."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no connection within the deadline")
            sock.settimeout(remaining)  # also bounds each later read and write
            sock.connect((address, port))
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


class _Watchdog:
    """Shuts ``sock`` down at ``deadline`` (``time.monotonic()``), whatever phase the attempt
    is in (TLS handshake, sending, reading headers or body): a blocked read or write on it then
    returns at once and ``fired`` is True. Use as a context manager around the attempt."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        # A duplicate descriptor of the same socket: still valid when an SSL wrap detaches
        # ``sock``, and never a descriptor the attempt has closed and the OS handed out again.
        self._guard = sock.dup()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self.fired = False

    def _fire(self) -> None:
        self.fired = True
        try:
            self._guard.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the peer closed it already

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        self._timer.join()  # so the guard is never shut down after it is closed
        self._guard.close()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
