"""Faults on demand: make the API slow, failing, rate-limiting or unreachable, and webhooks unreliable.

A fault is a JSON object. HTTP faults match requests by ``path`` (a glob, default ``/v1/*``) and
``method`` (default any) and fire with probability ``rate`` (default 1.0), at most ``times`` times
(default unlimited). Exactly one kind key says what happens:

* ``{"latency": 0.5}`` or ``{"latency": [0.1, 2.0]}`` -- wait that many seconds (fixed, or uniform
  in the range), then answer normally.
* ``{"status": 500}`` -- answer Stripe's ``api_error``; ``{"status": 429}`` -- answer Stripe's rate
  limit error (``Stripe-Rate-Limited-Reason`` header). Nothing is done.
* ``{"reset": true}`` -- reset the connection before doing anything.
* ``{"hang": 30}`` -- do nothing for that many seconds (past the client's timeout), then reset.
* ``{"lose_answer": true}`` -- do the request (the object is created, its events emitted), then
  reset the connection instead of answering: the case idempotency keys exist for.

Webhook faults match events by ``event`` (a glob of event types, default ``*``):

* ``{"webhook": "drop"}`` -- the delivery never happens; ``"duplicate"`` -- it is sent twice;
  ``"reorder"`` -- it is held back up to ``window`` seconds (default 1) so later events overtake
  it; ``"delay"`` -- it is held back ``delay`` seconds (default 5).

``seed`` (an integer) makes a fault's coin tosses repeatable; without it the sandbox-wide seed
(``--seed``) is used, and without that they are random. Paths under ``/_sandbox`` are never faulted.
"""

import fnmatch
import json
import os
import random
import socket
import struct
import threading
import time

from .errors import StripeError
from .objects import API_VERSION, new_id

HTTP_KINDS = ("latency", "status", "reset", "hang", "lose_answer")
WEBHOOK_ACTIONS = ("drop", "duplicate", "reorder", "delay")
_COMMON = {"path", "method", "rate", "seed", "times", "event"}


class FaultError(ValueError):
    """A fault specification that cannot be used; the message names the offending field."""


class Fault:
    """One validated fault with its own random stream; see the module docstring for the fields."""

    def __init__(self, spec, default_seed=None):
        if not isinstance(spec, dict):
            raise FaultError("A fault must be a JSON object.")
        kinds = [kind for kind in (*HTTP_KINDS, "webhook") if kind in spec]
        if len(kinds) != 1:
            raise FaultError(f"A fault needs exactly one of: {', '.join((*HTTP_KINDS, 'webhook'))}.")
        self.kind = kinds[0]
        allowed = _COMMON | {self.kind} | ({"window", "delay"} if self.kind == "webhook" else set())
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise FaultError(f"Unknown fault field: {unknown[0]}.")
        self.value = _check_value(self.kind, spec[self.kind])
        self.path = _string(spec, "path", "/v1/*")
        self.event = _string(spec, "event", "*")
        self.method = _string(spec, "method", "").upper() or None
        self.rate = _number(spec, "rate", 1.0)
        if not 0 <= self.rate <= 1:
            raise FaultError("`rate` must be between 0 and 1.")
        self.times = spec.get("times")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise FaultError("`times` must be a positive integer.")
        self.window = _number(spec, "window", 1.0)
        self.delay = _number(spec, "delay", 5.0)
        seed = spec.get("seed", default_seed)
        if seed is not None and not isinstance(seed, int):
            raise FaultError("`seed` must be an integer.")
        self.spec = dict(spec)
        self.fired = 0
        self._random = random.Random(seed)

    def toss(self):
        """Draw this fault's coin: True when it fires now (counts towards ``times``)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self._random.random() >= self.rate:
            return False
        self.fired += 1
        return True

    def seconds(self):
        """The wait of a ``latency`` or ``hang`` fault, drawn from its range if it has one."""
        if isinstance(self.value, list):
            return self._random.uniform(*self.value)
        return self.value

    def jitter(self, upper):
        """A random wait in ``[0, upper]`` seconds from this fault's stream."""
        return self._random.uniform(0, upper)

    def describe(self):
        """The fault as shown by ``GET /_sandbox/faults``."""
        return {**self.spec, "fired": self.fired}


def _string(spec, name, default):
    value = spec.get(name, default)
    if not isinstance(value, str):
        raise FaultError(f"`{name}` must be a string.")
    return value


def _number(spec, name, default):
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise FaultError(f"`{name}` must be a non-negative number.")
    return float(value)


def _check_value(kind, value):
    if kind == "latency" or kind == "hang":
        if kind == "hang" and value is True:
            return 30.0
        if isinstance(value, list):
            if len(value) != 2 or not all(_is_seconds(v) for v in value) or value[0] > value[1]:
                raise FaultError(f"`{kind}` must be seconds or a [low, high] range of seconds.")
            return [float(v) for v in value]
        if not _is_seconds(value):
            raise FaultError(f"`{kind}` must be seconds or a [low, high] range of seconds.")
        return float(value)
    if kind == "status":
        if value not in (429, 500):
            raise FaultError("`status` must be 500 (api_error) or 429 (rate limit).")
        return value
    if kind == "webhook":
        if value not in WEBHOOK_ACTIONS:
            raise FaultError(f"`webhook` must be one of: {', '.join(WEBHOOK_ACTIONS)}.")
        return value
    if value is not True:
        raise FaultError(f"`{kind}` must be true.")
    return value


def _is_seconds(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0


def parse(text, default_seed=None):
    """Parse a fault from JSON text (the ``--fault`` option); raises :class:`FaultError`."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise FaultError(f"A fault must be JSON: {error}.") from None
    return Fault(spec, default_seed)


class FaultSet:
    """The faults in force, added at start-up or at run time; safe to use from many threads."""

    def __init__(self, seed=None):
        self.seed = seed
        self._faults = []
        self._lock = threading.Lock()

    def add(self, spec):
        """Validate ``spec`` (a dict) and put it in force; returns the :class:`Fault`."""
        fault = spec if isinstance(spec, Fault) else Fault(spec, self.seed)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self):
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def describe(self):
        """All faults as JSON-ready dicts, with how often each has fired."""
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def for_request(self, method, path):
        """The HTTP faults that fire for this request, in the order they were added."""
        if path.startswith("/_sandbox"):
            return []
        with self._lock:
            return [
                fault
                for fault in self._faults
                if fault.kind in HTTP_KINDS
                and fnmatch.fnmatchcase(path, fault.path)
                and fault.method in (None, method)
                and fault.toss()
            ]

    def for_webhook(self, event_type):
        """The webhook faults that fire for one delivery of an ``event_type`` event."""
        with self._lock:
            return [
                fault
                for fault in self._faults
                if fault.kind == "webhook" and fnmatch.fnmatchcase(event_type, fault.event) and fault.toss()
            ]


class FaultMiddleware:
    """WSGI middleware applying a :class:`FaultSet`'s HTTP faults around the sandbox app."""

    def __init__(self, app, faults):
        self.app = app
        self.faults = faults

    def __call__(self, environ, start_response):
        fired = self.faults.for_request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        for fault in fired:
            if fault.kind == "latency":
                time.sleep(fault.seconds())
            elif fault.kind == "status":
                return _error(fault.value)(environ, start_response)
            elif fault.kind == "reset":
                _reset(environ)
            elif fault.kind == "hang":
                time.sleep(fault.seconds())
                _reset(environ)
            elif fault.kind == "lose_answer":
                body = self.app(environ, lambda *args, **kwargs: None)
                try:
                    for _ in body:
                        pass
                finally:
                    getattr(body, "close", lambda: None)()
                _reset(environ)
        return self.app(environ, start_response)


def _error(status):
    """Stripe's answer for an injected 500 (``api_error``) or 429 (rate limit)."""
    from flask import Response  # the middleware sits outside Flask's request context

    if status == 429:
        error = StripeError(
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://docs.stripe.com/rate-limits.",
            status=429,
        )
        headers = {"Stripe-Rate-Limited-Reason": "global-rate"}
    else:
        error = StripeError(
            "An unknown error occurred (injected by the sandbox's fault settings).",
            status=500,
            type="api_error",
        )
        headers = {}
    body = json.dumps({"error": error.to_dict()}, indent=2) + "\n"
    headers.update({"Request-Id": new_id("req_", 14), "Stripe-Version": API_VERSION})
    return Response(body, status=status, mimetype="application/json", headers=headers)


class ConnectionResetByFault(ConnectionResetError):
    """Raised after the sandbox reset a connection on purpose (the server drops it quietly)."""


def _reset(environ):
    """Reset the client's TCP connection (RST, no answer) and stop handling the request."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Detach so the server's later writes fail on this object, never on a reused descriptor.
        os.close(sock.detach())
    raise ConnectionResetByFault("connection reset by a sandbox fault")
