"""In-memory sandbox state: objects, the sandbox clock, events and background threads."""

import contextvars
import copy
import random
import threading
import time

from . import checkout, payments, refunds
from .errors import no_such
from .faults import FaultSet
from .objects import event as build_event
from .webhooks import SANDBOX_RETRIES, WebhookDispatcher

TICK_SECONDS = 0.5

# Set by the API layer so events record which request caused them.
current_request = contextvars.ContextVar("current_request", default=None)


class SandboxState:
    """Everything the sandbox knows; guard mutations with ``self.lock``."""

    def __init__(
        self,
        *,
        webhook_urls=(),
        webhook_secret,
        public_url,
        settle_delay,
        webhook_retry_delays=SANDBOX_RETRIES,
        seed=None,
        decline_rate=0.0,
    ):
        self.lock = threading.RLock()
        self.public_url = public_url.rstrip("/")
        self.settle_delay = settle_delay
        self.clock_offset = 0.0
        self.sessions = {}
        self.line_items = {}
        self.payment_intents = {}
        self.charges = {}
        self.refunds = {}
        self.products = {}
        self.prices = {}
        self.customers = {}
        self.events = {}
        self.idempotency = {}
        # session id -> payment_intent_data, used when the PaymentIntent is created
        self.intent_data = {}
        # payment_intent id -> (settle_at, failure or None) for bank debits in flight
        self.settlements = {}
        # redirect nonce -> the pending redirect payment (alipay, ideal) awaiting the wallet's answer
        self.redirects = {}
        # charge ids paid with a card whose refunds fail; refund ids awaiting failure
        self.refund_failing_charges = set()
        self.refunds_to_fail = []
        self.faults = FaultSet(seed)
        # Extra declines of good cards ("decline rate"), from their own repeatable stream.
        self.decline_rate = decline_rate
        self.decline_random = random.Random(seed)
        self.webhooks = WebhookDispatcher(
            webhook_secret,
            webhook_urls,
            self._delivered,
            retry_delays=webhook_retry_delays,
            clock=self.clock,
            faults=self.faults,
        )
        self._stop = threading.Event()
        self._sweeper = None

    # -- clock ---------------------------------------------------------------

    def now(self):
        """Sandbox time (whole unix seconds): real time plus the advanced offset."""
        return int(self.clock())

    def clock(self):
        """Sandbox time in fractional unix seconds (webhook retries are due on it)."""
        return time.time() + self.clock_offset

    def advance(self, seconds):
        """Move the sandbox clock forward and process whatever became due."""
        with self.lock:
            self.clock_offset += seconds
            self.tick()
            self.webhooks.wake()
            return self.now()

    def tick(self):
        """Expire sessions, settle bank debits and fail doomed refunds that are due."""
        with self.lock:
            checkout.expire_due(self)
            payments.settle_due(self)
            refunds.fail_pending(self)

    # -- lookups -------------------------------------------------------------

    def get(self, kind, object_id):
        """Fetch a stored object or raise Stripe's 404 error."""
        store = {
            "checkout.session": self.sessions,
            "payment_intent": self.payment_intents,
            "charge": self.charges,
            "refund": self.refunds,
            "event": self.events,
            "product": self.products,
            "price": self.prices,
            "customer": self.customers,
        }[kind]
        try:
            return store[object_id]
        except KeyError:
            raise no_such(kind, object_id) from None

    # -- events --------------------------------------------------------------

    def emit(self, event_type, obj):
        """Record an event holding a snapshot of ``obj`` and queue its delivery."""
        with self.lock:
            request = current_request.get() or {"id": None, "idempotency_key": None}
            evt = build_event(
                event_type=event_type,
                created=self.now(),
                data_object=copy.deepcopy(obj),
                pending_webhooks=0,
                request=dict(request),
            )
            self.events[evt["id"]] = evt
            self.webhooks.enqueue(evt)
            return evt

    def _delivered(self, event_id):
        with self.lock:
            evt = self.events.get(event_id)
            if evt and evt["pending_webhooks"] > 0:
                evt["pending_webhooks"] -= 1

    # -- threads -------------------------------------------------------------

    def start(self):
        """Start webhook delivery and the expiry/settlement sweeper (idempotent)."""
        with self.lock:
            self.webhooks.start()
            if self._sweeper is None:
                self._stop.clear()
                self._sweeper = threading.Thread(target=self._sweep, name="sandbox-sweeper", daemon=True)
                self._sweeper.start()

    def stop(self):
        """Stop the background threads."""
        with self.lock:
            sweeper, self._sweeper = self._sweeper, None
            self._stop.set()
        if sweeper is not None:
            sweeper.join()
        self.webhooks.stop()

    def _sweep(self):
        while not self._stop.wait(TICK_SECONDS):
            self.tick()
