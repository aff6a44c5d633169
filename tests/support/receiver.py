"""One webhook receiver for every suite: a scriptable HTTP endpoint on 127.0.0.1 that records
what it is sent. It stands for a merchant's endpoint (Standard Webhooks from the worker) and for a
Stripe webhook endpoint (signed events from the sandbox).

``replies`` is consumed one per request: an int status, or ``("sleep", seconds)`` (wait, then
200); when it is empty the receiver answers ``default``. A 3xx answer carries a ``Location``
elsewhere. ``delay`` seconds are slept before every answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import ClosingIterator

from tests.support.servers import ServerThread


@dataclass
class Received:
    """One request the receiver got (header names in lower case) and the status it answered."""

    headers: dict[str, str]
    body: str
    status: int = 200
    at: float = field(default_factory=time.monotonic)

    @property
    def webhook_id(self) -> str:
        """The Standard Webhooks ``webhook-id`` header."""
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        """The body, decoded from JSON."""
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """The receiver's state; serve it with :func:`serving_receiver` (``url`` is set then)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: list[Any] = field(default_factory=list)
    default: Any = 200
    delay: float = 0.0
    in_flight: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The WSGI application: record the request, answer the next reply."""
        request = Request(environ)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.arrived:
            reply = self.replies.pop(0) if self.replies else self.default
            status = 200 if isinstance(reply, tuple) else int(reply)
            self.received.append(Received(headers, request.get_data(as_text=True), status))
            self.in_flight += 1
            self.arrived.notify_all()
        time.sleep(self.delay)
        if isinstance(reply, tuple):
            time.sleep(reply[1])
        location = {"Location": "https://elsewhere.example/"} if 300 <= status < 400 else {}
        response = Response(f"reply {status}", status=status, headers=location)
        return ClosingIterator(response(environ, start_response), self._answered)

    def _answered(self) -> None:
        with self.arrived:
            self.in_flight -= 1
            self.arrived.notify_all()

    @property
    def bodies(self) -> list[str]:
        """The bodies received, in order."""
        return [r.body for r in self.received]

    def events(self) -> list[dict[str, Any]]:
        """The decoded bodies of the requests answered with a 2xx."""
        return [r.event for r in self.received if r.status < 300]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10) -> list[Received]:
        """Wait until ``predicate(received)`` holds and every request received has been answered
        (the sender has its status), failing the test after ``timeout`` s; returns a copy of
        ``received``. (``received`` itself grows as requests arrive, before they are answered.)"""
        with self.arrived:
            done = self.arrived.wait_for(lambda: predicate(self.received) and not self.in_flight, timeout)
            assert done, self.received
            return list(self.received)


@contextmanager
def serving_receiver(
    receiver: Receiver | None = None, *, port: int = 0, host: str = "127.0.0.1", ssl_context: Any = None
) -> Iterator[Receiver]:
    """Serve ``receiver`` (a new one by default) on ``host:port`` for the block; its ``url`` is
    ``http://host:port/hooks``."""
    handle = receiver or Receiver()
    server = ServerThread(handle.wsgi, port, host=host, ssl_context=ssl_context)
    handle.url = server.url + "/hooks"
    try:
        yield handle
    finally:
        server.stop()
