"""One handle on the Stripe sandbox (``sandbox/``) for every suite: start it on 127.0.0.1, drive
its control endpoints (``/_sandbox/...``: pay, clock, webhooks, deliveries, faults), stop it.

The suite's session sandbox (``sandbox_server`` in ``tests/conftest.py``) and the sandbox's own
tests (``sandbox_factory`` in ``tests/sandbox/conftest.py``) both start theirs with
:func:`start_sandbox`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

import sandbox
from tests.support.servers import ServerThread


@dataclass
class FaultsInForce:
    """Handle on the faults a :meth:`SandboxHandle.faults` block put in force."""

    url: str

    def fired(self) -> list[tuple[dict[str, Any], int]]:
        """Each fault in force (as given) with how often it has fired so far."""
        response = requests.get(f"{self.url}/_sandbox/faults", timeout=10)
        response.raise_for_status()
        return [
            ({k: v for k, v in fault.items() if k != "fired"}, fault["fired"])
            for fault in response.json()["faults"]
        ]

    def clear(self) -> None:
        """Remove every fault (the block's exit does it too)."""
        requests.delete(f"{self.url}/_sandbox/faults", timeout=10).raise_for_status()


class SandboxHandle:
    """A running sandbox: ``url`` (its base address), ``wsgi`` (its Flask app), ``state`` (its
    :class:`~sandbox.state.SandboxState`) and ``http`` (a ``requests`` session for raw calls)."""

    def __init__(self, wsgi: Any, server: ServerThread) -> None:
        self.wsgi = wsgi
        self.state = wsgi.sandbox_state
        self.url = server.url
        self.http = requests.Session()
        self._server = server

    def control(self, path: str, **data: Any) -> dict[str, Any]:
        """POST form ``data`` to the control endpoint ``/_sandbox/<path>`` (a leading ``/`` is
        allowed) and return its JSON; raises ``requests.HTTPError`` on a 4xx/5xx. A call that
        waits server-side (``deliveries/flush`` with ``timeout``) gets that much longer to answer."""
        wait = float(data.get("timeout", 0))
        # Not through ``http``: control calls come from several threads at once (tests/integration).
        response = requests.post(f"{self.url}/_sandbox/{path.lstrip('/')}", data=data, timeout=10 + wait)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def pay(self, session_id: str, **data: Any) -> dict[str, Any]:
        """Pay Checkout Session ``session_id`` as the shopper would (``card_number``, default
        4242 4242 4242 4242; or ``payment_method="us_bank_account"`` and ``account_number``)."""
        return self.control(f"checkout/sessions/{session_id}/pay", **data)

    def advance(self, seconds: int) -> dict[str, Any]:
        """Move the sandbox clock forward by ``seconds``."""
        return self.control("clock/advance", seconds=seconds)

    def webhooks(self, enabled: bool) -> None:
        """Turn webhook delivery on or off (events emitted while off are dropped)."""
        self.control("webhooks/enable" if enabled else "webhooks/disable")

    def flush(self, timeout: float = 15) -> bool:
        """Wait (``timeout`` s at most) until every queued webhook is delivered; whether the queue
        is empty."""
        return bool(self.control("deliveries/flush", timeout=timeout)["empty"])

    @contextmanager
    def faults(self, *specs: dict[str, Any]) -> Iterator[FaultsInForce]:
        """Put the faults ``specs`` in force for the ``with`` block, then clear all faults,
        whatever happens inside: the session's one sandbox serves every test, so a test that makes
        it misbehave must leave it healthy. The format is the sandbox's own
        (``sandbox/faults.py``); raises ``requests.HTTPError`` if the sandbox refuses a spec
        (400 names the field)::

            with sandbox.faults({"latency": 2.0}) as faults:
                ...
                fired = faults.fired()   # [(spec, times fired), ...] while they are in force
        """
        handle = FaultsInForce(self.url)
        try:
            for spec in specs:
                requests.post(f"{self.url}/_sandbox/faults", json=spec, timeout=10).raise_for_status()
            yield handle
        finally:
            handle.clear()

    def stop(self) -> None:
        """Stop the server, the sandbox's background threads and the HTTP session."""
        self._server.stop()
        self.state.stop()
        self.http.close()


def start_sandbox(port: int = 0, **options: Any) -> SandboxHandle:
    """Start a sandbox on 127.0.0.1:``port`` (0: a free port) with ``options`` for
    :func:`sandbox.create_app` (``webhook_urls``, ``webhook_secret``, ``settle_delay``, …); its
    public URL is its own address and its background threads run from the start."""
    wsgi = sandbox.create_app(public_url="http://sandbox.invalid", **options)
    server = ServerThread(wsgi, port)
    wsgi.sandbox_state.public_url = server.url
    wsgi.sandbox_state.start()
    return SandboxHandle(wsgi, server)
