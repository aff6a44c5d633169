"""Every merchant event to the message broker as well, when ``EVENT_BROKER_URL`` is set.

The worker runs a :class:`EventPublisher` in a thread of its own (:func:`start_publishing`), so
a broker that is down or hangs never holds up webhook delivery. Publication is at least once,
and a consumer can deduplicate: the message id is the event id, whatever the attempt.

State lives in the ``events`` rows, claimed as the worker claims messages: a short transaction
picks the oldest unpublished events (``SELECT … FOR UPDATE SKIP LOCKED`` where the database has
it) and sets ``broker_locked_by``/``broker_locked_until`` (a lease) with a conditional
``UPDATE``; the events are then published with no transaction open, and those the broker
confirmed get ``broker_published_at``. So several workers publish side by side, and a worker
that dies lets its lease run out and the events go out again (same id).

When the broker fails, the events not yet confirmed are released with ``broker_locked_until``
at the next try, and the thread waits: the back-off doubles from 1 s to 60 s and resets after a
batch goes through. Nothing is lost; the events wait in the table. Each connect and each
publish-and-confirm is bounded by ``EVENT_BROKER_TIMEOUT`` seconds (default 5).

Settings (passed in, :class:`~app.notifications.settings.NotificationSettings`):
``EVENT_BROKER_URL`` (``amqp://…`` or ``nats://…``; unset: nothing is published),
``EVENT_BROKER_EXCHANGE`` (default ``payments``; see :mod:`app.notifications.broker` for the
layout), ``EVENT_BROKER_TIMEOUT``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from ..db import assert_no_transaction, skip_locked, unit_of_work
from ..extensions import db
from ..models import MerchantEvent, utcnow
from .broker import EXCHANGE, TIMEOUT, BrokerError, BrokerPublisher, publisher_for, safe_address
from .serializers import event_to_dict
from .settings import NotificationSettings

log = logging.getLogger(__name__)

#: Events claimed at once.
BATCH = 50
#: How long a claim lasts; a batch stops taking new events after half of it.
LEASE = timedelta(seconds=60)
#: Seconds to wait after a broker or database failure: doubling from the first to the second.
BACKOFF = (1.0, 60.0)


class EventPublisher:
    """Publishes unpublished events to the broker at ``url``; used in an application context.

    ``name`` identifies the worker in claims (at most 48 characters are kept). ``exchange``,
    ``timeout``: see :mod:`app.notifications.broker`. ``backoff``: (first, longest) seconds
    between tries while the broker fails. Raises ``ValueError`` for an unusable ``url`` or
    ``exchange``.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        exchange: str = EXCHANGE,
        timeout: float = TIMEOUT,
        backoff: tuple[float, float] = BACKOFF,
        batch: int = BATCH,
    ):
        self.broker: BrokerPublisher = publisher_for(url, exchange=exchange, timeout=timeout)
        self.address = safe_address(url)
        self.name = name[:48]
        self.batch = batch
        self.first_backoff, self.max_backoff = backoff
        self.retry_in = self.first_backoff
        #: Broker failures seen so far (each one a back-off).
        self.failures = 0

    def publish_due(self, stop: threading.Event | None = None) -> int:
        """Claim up to ``batch`` due events, oldest first, publish each and record those the
        broker confirmed. Returns how many were published.

        Raises :class:`~app.notifications.broker.BrokerError` when the broker fails; the events
        confirmed before are recorded, the rest are released until ``retry_in`` seconds from now.
        Database errors propagate (the claims then run out with their lease).
        """
        events = self._claim()
        if events:
            assert_no_transaction("publishing to the event broker")
        give_up_at = time.monotonic() + LEASE.total_seconds() / 2  # well before the lease runs out
        confirmed: list[str] = []
        try:
            for event_id, event_type, body in events:
                if (stop is not None and stop.is_set()) or time.monotonic() > give_up_at:
                    break
                self.broker.publish(event_id, event_type, body)
                confirmed.append(event_id)
        except BrokerError:
            self._settle(events, confirmed, retry_in=self.retry_in)
            raise
        self._settle(events, confirmed, retry_in=0.0)
        return len(confirmed)

    def run(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Publish until ``stop`` is set: a batch, then a pause of ``poll_interval`` seconds when
        nothing more is due, or the back-off after a failure. A failure is logged, never raised."""
        while not stop.is_set():
            try:
                published = self.publish_due(stop)
            except BrokerError as exc:
                self._failed(stop, "broker", exc)
                continue
            except Exception as exc:
                db.session.remove()  # the database is down: start again with a fresh session
                self._failed(stop, "database", exc)
                continue
            self.retry_in = self.first_backoff
            if published:
                log.info("broker_published count=%d broker=%s worker=%s", published, self.address, self.name)
            if published < self.batch:
                stop.wait(poll_interval)
        self.close()

    def close(self) -> None:
        """Drop the broker connection."""
        self.broker.close()

    def _failed(self, stop: threading.Event, what: str, exc: Exception) -> None:
        self.failures += 1
        log.warning(
            "broker_publish_failed cause=%s broker=%s error=%s retry_in=%.1f worker=%s",
            what, self.address, json.dumps(str(exc)), self.retry_in, self.name,
        )  # fmt: skip
        stop.wait(self.retry_in)
        self.retry_in = min(self.retry_in * 2, self.max_backoff)

    def _claim(self) -> list[tuple[str, str, bytes]]:
        """Lease the oldest due events to this publisher; returns (id, type, body) for each.
        Two units of work: the claim, then the read of what was claimed."""
        now = utcnow()
        token = f"{self.name}:{secrets.token_hex(4)}"  # this claim's rows, and no one else's
        due = (
            MerchantEvent.broker_published_at.is_(None),
            sa.or_(MerchantEvent.broker_locked_until.is_(None), MerchantEvent.broker_locked_until < now),
        )
        query = skip_locked(
            sa.select(MerchantEvent.id).where(*due).order_by(MerchantEvent.created_at).limit(self.batch)
        )
        with unit_of_work():
            candidates = db.session.scalars(query).all()
            if candidates:
                db.session.execute(
                    sa.update(MerchantEvent)
                    .where(MerchantEvent.id.in_(candidates), *due)
                    .values(broker_locked_by=token, broker_locked_until=now + LEASE)
                    .execution_options(synchronize_session=False)
                )
        if not candidates:
            return []
        with unit_of_work():  # ended before publishing: no transaction stays open meanwhile
            claimed = db.session.scalars(
                sa.select(MerchantEvent)
                .where(MerchantEvent.broker_locked_by == token)
                .order_by(MerchantEvent.created_at)
            ).all()
            # The body is the webhook body byte for byte.
            return [(e.id, e.type, json.dumps(event_to_dict(e)).encode()) for e in claimed]

    def _settle(
        self, events: Sequence[tuple[str, str, bytes]], confirmed: list[str], *, retry_in: float
    ) -> None:
        """Mark ``confirmed`` published; release the other claimed events until ``retry_in``
        seconds from now (at once when 0). One unit of work."""
        now = utcnow()
        done = set(confirmed)
        rest = [event_id for event_id, _, _ in events if event_id not in done]
        with unit_of_work():
            if confirmed:
                db.session.execute(
                    sa.update(MerchantEvent)
                    .where(MerchantEvent.id.in_(confirmed), MerchantEvent.broker_published_at.is_(None))
                    .values(broker_published_at=now, broker_locked_by=None, broker_locked_until=None)
                    .execution_options(synchronize_session=False)
                )
            if rest:
                next_try = now + timedelta(seconds=retry_in) if retry_in else None
                db.session.execute(
                    sa.update(MerchantEvent)
                    .where(MerchantEvent.id.in_(rest), MerchantEvent.broker_published_at.is_(None))
                    .values(broker_locked_by=None, broker_locked_until=next_try)
                    .execution_options(synchronize_session=False)
                )


def publisher_from_config(name: str, settings: NotificationSettings) -> EventPublisher | None:
    """An :class:`EventPublisher` from ``settings``, or None when ``EVENT_BROKER_URL`` is not set."""
    if not settings.broker_url:
        return None
    return EventPublisher(
        settings.broker_url,
        name=name,
        exchange=settings.broker_exchange,
        timeout=settings.broker_timeout,
    )


def start_publishing(
    app: Flask, name: str, stop: threading.Event, settings: NotificationSettings
) -> threading.Thread | None:
    """Start publishing in a thread of its own (in an application context of ``app``) until
    ``stop`` is set, when ``EVENT_BROKER_URL`` is set; returns the thread (not a daemon: on stop
    it finishes the publish in hand, at most ``EVENT_BROKER_TIMEOUT`` seconds) or None."""
    publisher = publisher_from_config(name, settings)
    if publisher is None:
        return None

    def run() -> None:
        with app.app_context():
            publisher.run(stop)

    thread = threading.Thread(target=run, name=f"publish-{name}")
    thread.start()
    log.info("publishing events to %s", publisher.address)
    return thread
