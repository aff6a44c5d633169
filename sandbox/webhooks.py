"""Background webhook delivery: Stripe-signed POSTs, retried with backoff until 2xx."""

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time

import requests

MAX_BACKOFF = 60.0


def sign(payload, secret, timestamp=None):
    """Return a ``Stripe-Signature`` header value for ``payload`` (a str)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _Delivery:
    """One event on its way to one endpoint."""

    def __init__(self, event_id, url, payload):
        self.event_id = event_id
        self.url = url
        self.payload = payload
        self.attempts = 0


class WebhookDispatcher:
    """Queue of pending deliveries, drained by one daemon thread.

    Failed deliveries are retried after 1, 2, 4, 8 ... seconds (capped at
    ``MAX_BACKOFF``), forever, until the endpoint answers 2xx.
    """

    def __init__(self, secret, urls=(), on_delivered=None, timeout=5.0):
        self.secret = secret
        self.urls = list(urls)
        self.enabled = True
        self.timeout = timeout
        self._on_delivered = on_delivered
        self._queue = []
        self._order = itertools.count()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = None
        self._http = None

    def add_url(self, url):
        """Deliver future events to ``url`` as well."""
        with self._cond:
            if url not in self.urls:
                self.urls.append(url)

    def enqueue(self, event):
        """Queue ``event`` for every endpoint; returns how many deliveries were queued.

        Sets the event's ``pending_webhooks``. While delivery is disabled the
        event is dropped for good.
        """
        with self._cond:
            if not self.enabled:
                return 0
            event["pending_webhooks"] = len(self.urls)
            payload = json.dumps(event, indent=2)
            for url in self.urls:
                self._push(0.0, _Delivery(event["id"], url, payload))
            self._cond.notify_all()
            return len(self.urls)

    def _push(self, due, delivery):
        heapq.heappush(self._queue, (due, next(self._order), delivery))

    def pending(self):
        """Number of deliveries queued or being attempted."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def flush(self, timeout=10.0):
        """Wait until nothing is pending (or ``timeout`` s pass); True if drained."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def start(self):
        """Start the delivery thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._http = requests.Session()
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self):
        """Stop the delivery thread and close its HTTP session."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(self.timeout + 1)
            self._http.close()

    def _next_due(self):
        """Block until a delivery is due; None when stopping."""
        with self._cond:
            while not self._stopping:
                if self._queue and self._queue[0][0] <= time.monotonic():
                    self._in_flight += 1
                    return heapq.heappop(self._queue)[2]
                wait = self._queue[0][0] - time.monotonic() if self._queue else None
                self._cond.wait(wait)
            return None

    def _run(self):
        while (delivery := self._next_due()) is not None:
            delivered = self._send(delivery)
            with self._cond:
                self._in_flight -= 1
                if not delivered:
                    delivery.attempts += 1
                    backoff = min(2.0 ** (delivery.attempts - 1), MAX_BACKOFF)
                    self._push(time.monotonic() + backoff, delivery)
                self._cond.notify_all()
            if delivered and self._on_delivered:
                self._on_delivered(delivery.event_id)

    def _send(self, delivery):
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(delivery.payload, self.secret),
        }
        try:
            response = self._http.post(
                delivery.url,
                data=delivery.payload.encode(),
                headers=headers,
                timeout=self.timeout,
            )
            response.close()
        except requests.RequestException:
            return False
        return 200 <= response.status_code < 300
