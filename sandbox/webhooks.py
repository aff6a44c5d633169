"""Background webhook delivery: Stripe-signed POSTs, retried on Stripe's schedule until 2xx.

Stripe's documented retry behaviour (https://docs.stripe.com/webhooks#automatic-retries): in live
mode it retries with exponential backoff for up to three days; in sandboxes (test mode) it retries
three times over a few hours. It does not publish the individual intervals, so the sandbox uses
the schedules below. Retries are due on the *sandbox* clock, so ``POST /_sandbox/clock/advance``
brings them forward; tests may also pass a compressed schedule.
"""

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time

import requests

HOUR = 3600.0
# Delays (seconds) before each retry; after the last one the delivery is abandoned.
SANDBOX_RETRIES = (600.0, HOUR, 3 * HOUR)  # three retries over a few hours
LIVE_RETRIES = (60.0, 600.0, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 24 * HOUR)  # ~3 days
# The same backoff in seconds instead of minutes and hours, for in-process tests (create_app's default):
# 1, 2, 4 ... 32 s, then every minute for an hour.
COMPRESSED_RETRIES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0) + (60.0,) * 60
RETRY_SCHEDULES = {"sandbox": SANDBOX_RETRIES, "live": LIVE_RETRIES, "compressed": COMPRESSED_RETRIES}


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

    A delivery that fails (non-2xx, timeout, refused) is retried after each
    delay of ``retry_delays`` in turn (seconds of ``clock``, the sandbox clock),
    then abandoned. ``faults`` (a :class:`~sandbox.faults.FaultSet`) may drop,
    duplicate, reorder or delay deliveries.
    """

    def __init__(
        self,
        secret,
        urls=(),
        on_delivered=None,
        timeout=5.0,
        *,
        retry_delays=SANDBOX_RETRIES,
        clock=time.time,
        faults=None,
    ):
        self.secret = secret
        self.urls = list(urls)
        self.enabled = True
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self.abandoned = 0
        self._clock = clock
        self._faults = faults
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
            now = self._clock()
            for url in self.urls:
                for due in self._planned(event["type"], now):
                    self._push(due, _Delivery(event["id"], url, payload))
            self._cond.notify_all()
            return len(self.urls)

    def _planned(self, event_type, now):
        """When to send one delivery: ``[now]`` normally; faults drop, repeat or postpone it."""
        times = [now]
        for fault in self._faults.for_webhook(event_type) if self._faults else ():
            if fault.value == "drop":
                return []
            if fault.value == "duplicate":
                times.append(times[-1])
            elif fault.value == "delay":
                times = [t + fault.delay for t in times]
            else:  # reorder: held back a while so that events emitted after it overtake it
                times = [t + fault.jitter(fault.window) for t in times]
        return times

    def wake(self):
        """Re-check due times (the sandbox clock moved)."""
        with self._cond:
            self._cond.notify_all()

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
                if self._queue and self._queue[0][0] <= self._clock():
                    self._in_flight += 1
                    return heapq.heappop(self._queue)[2]
                wait = self._queue[0][0] - self._clock() if self._queue else None
                self._cond.wait(wait)
            return None

    def _run(self):
        while (delivery := self._next_due()) is not None:
            delivered = self._send(delivery)
            with self._cond:
                self._in_flight -= 1
                if not delivered and delivery.attempts < len(self.retry_delays):
                    self._push(self._clock() + self.retry_delays[delivery.attempts], delivery)
                    delivery.attempts += 1
                elif not delivered:
                    self.abandoned += 1
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
