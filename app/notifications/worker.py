"""The notification worker: claims due messages, sends them, records every attempt.

Many workers on many machines may share one MySQL/MariaDB database. A worker claims one due
message at a time in a short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` (MySQL 8,
MariaDB 10.6+) so concurrent workers pass over each other's candidates, then a conditional
``UPDATE`` that sets ``locked_by``/``locked_until`` (a lease) and commits. The HTTP request
runs with no transaction open. A worker that dies mid-delivery simply lets its lease run out;
the message is then due again, so nothing is lost (delivery is at least once; merchants
deduplicate on ``webhook-id``). SQLite has no ``SKIP LOCKED``; its writes are serialised, so
the conditional ``UPDATE`` alone keeps a single worker (or a few) correct there.

Retries follow ``WEBHOOK_RETRY_SCHEDULE`` (seconds before retry 1, 2, …, about 3 days in all
by default) with ±10 % jitter; after the last retry the message is failed and its endpoint
flagged. A 410 answer disables the endpoint.

A misbehaving peer costs a bounded time, never the worker:

- **Endpoints.** Each attempt has one overall deadline (``WEBHOOK_ATTEMPT_DEADLINE``, default
  10 s; see :mod:`app.notifications.delivery`) and whatever an endpoint does is recorded as a
  failed attempt. A worker delivers up to ``WORKER_CONCURRENCY`` messages at once (default 4),
  each in its own thread with its own application context and database session, and keeps
  claiming while some are in flight: an endpoint that hangs until the deadline holds one slot
  while the other merchants' messages go out through the rest. The lease (60 s, or three
  deadlines if longer) comfortably outlasts an attempt, so no lease runs out mid-send.
- **The database.** An error in the loop (the database down or restarting, a lost connection)
  is rolled back and logged, and the loop tries again after a back-off that doubles from 1 s
  to 30 s; it carries on where it was once the database answers. An error while delivering one
  message is logged; that message's lease runs out and it is attempted again.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from types import FrameType

import sqlalchemy as sa
from flask import Flask, current_app

from ..db import assert_no_transaction
from ..extensions import db
from ..models import DeliveryAttempt, Event, EventDelivery, WebhookEndpoint, utcnow
from ..scheduler import PeriodicJob, run_due_jobs
from .delivery import ATTEMPT_DEADLINE, Message, Outcome, send
from .endpoints import signing_secrets
from .publisher import start_publishing
from .serializers import event_to_dict

log = logging.getLogger(__name__)

#: How long a claim lasts at least: several attempt deadlines (10 s by default) plus bookkeeping.
LEASE = timedelta(seconds=60)
#: Deliveries one worker makes at once; the default of the ``WORKER_CONCURRENCY`` setting.
CONCURRENCY = 4
#: Seconds to wait after an error in the loop (the database down): doubling up to the second.
ERROR_BACKOFF = (1.0, 30.0)
#: Message statuses that still want an attempt.
DUE_STATUSES = ("pending", "retrying")
STATUSES = ("pending", "retrying", "succeeded", "failed")


class Worker:
    """One worker process (or thread, in tests); runs in an application context.

    ``deadline``: seconds one attempt may take in all (default ``WEBHOOK_ATTEMPT_DEADLINE``,
    else 10). ``concurrency``: messages delivered at once (default ``WORKER_CONCURRENCY``,
    else 4). ``lease``: how long a claim lasts (default 60 s, or three deadlines if longer).
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        deadline: float | None = None,
        concurrency: int | None = None,
        lease: timedelta | None = None,
    ):
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._deadline, self._concurrency, self._lease = deadline, concurrency, lease
        self._stop = threading.Event()

    # The settings are read when used, in the application context the worker runs in.
    @property
    def deadline(self) -> float:
        """Seconds one attempt may take in all."""
        if self._deadline is not None:
            return self._deadline
        return float(current_app.config.get("WEBHOOK_ATTEMPT_DEADLINE", ATTEMPT_DEADLINE))

    @property
    def concurrency(self) -> int:
        """How many messages are delivered at once."""
        return self._concurrency or int(current_app.config.get("WORKER_CONCURRENCY", CONCURRENCY))

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts."""
        return self._lease or max(LEASE, timedelta(seconds=3 * self.deadline))

    @property
    def stopping(self) -> bool:
        """Whether SIGTERM/SIGINT asked the worker to stop."""
        return self._stop.is_set()

    def claim(self) -> str | None:
        """Claim the most overdue message; return its id, or None when nothing is due."""
        while True:
            now = utcnow()
            due = (
                EventDelivery.status.in_(DUE_STATUSES),
                EventDelivery.next_attempt_at <= now,
                sa.or_(EventDelivery.locked_until.is_(None), EventDelivery.locked_until < now),
            )
            query = sa.select(EventDelivery.id).where(*due).order_by(EventDelivery.next_attempt_at).limit(1)
            if db.session.get_bind().dialect.name == "mysql":
                query = query.with_for_update(skip_locked=True)
            delivery_id = db.session.scalar(query)
            if delivery_id is None:
                db.session.rollback()
                return None
            taken = db.session.execute(
                sa.update(EventDelivery)
                .where(EventDelivery.id == delivery_id, *due)
                .values(locked_by=self.name, locked_until=now + self.lease)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            db.session.commit()
            if taken == 1:
                return delivery_id
            # Another worker claimed it between our SELECT and UPDATE (SQLite): look again.

    def release(self, delivery_id: str) -> None:
        """Give up a claim without attempting, so another worker can take it at once."""
        db.session.execute(
            sa.update(EventDelivery)
            .where(EventDelivery.id == delivery_id, EventDelivery.locked_by == self.name)
            .values(locked_by=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    def deliver(self, delivery_id: str) -> Outcome | None:
        """Attempt the claimed message ``delivery_id`` once and record the outcome.

        A message whose endpoint is no longer enabled is failed without an attempt (None).
        """
        db.session.expire_all()
        delivery = db.session.get_one(EventDelivery, delivery_id)
        endpoint = db.session.get_one(WebhookEndpoint, delivery.endpoint_id)
        if endpoint.status != "enabled":
            self._finish(delivery_id, status="failed")
            log.info(
                "webhook_skipped msg_id=%s endpoint_id=%s endpoint_status=%s",
                delivery_id,
                endpoint.id,
                endpoint.status,
            )
            return None
        event = db.session.get_one(Event, delivery.event_id)
        message = Message(
            id=delivery.id,
            url=endpoint.url,
            body=json.dumps(event_to_dict(event)),
            secrets=signing_secrets(endpoint, utcnow()),
        )
        attempt = delivery.attempt_count + 1
        event_id, event_type, endpoint_id = event.id, event.type, endpoint.id
        db.session.commit()  # no transaction stays open across the HTTP request
        assert_no_transaction("a merchant webhook delivery")
        outcome = send(
            message, allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_URLS"], deadline=self.deadline
        )
        result = self._record(delivery_id, endpoint_id, attempt, outcome)
        log.info(
            "webhook_attempt msg_id=%s event_id=%s type=%s endpoint_id=%s attempt=%d status_code=%s "
            "latency_ms=%d result=%s error=%s worker=%s",
            delivery_id, event_id, event_type, endpoint_id, attempt, outcome.status_code,
            outcome.latency_ms, result, json.dumps(outcome.error), self.name,
        )  # fmt: skip
        return outcome

    def _record(self, delivery_id: str, endpoint_id: str, attempt: int, outcome: Outcome) -> str:
        """Store the attempt and move the message on; returns the message's new status."""
        now = utcnow()
        schedule: Sequence[int] = current_app.config["WEBHOOK_RETRY_SCHEDULE"]
        db.session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempted_at=now,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                response_body=outcome.response_body,
                error=outcome.error,
            )
        )
        endpoint_changes: dict[str, object] = {}
        next_attempt_at = now
        if outcome.succeeded:
            status = "succeeded"
        elif outcome.status_code == 410:
            status = "failed"
            endpoint_changes = {"status": "disabled", "disabled_reason": "The endpoint answered 410 Gone."}
        elif attempt <= len(schedule):
            status = "retrying"
            next_attempt_at = now + timedelta(seconds=schedule[attempt - 1] * random.uniform(0.9, 1.1))
        else:
            status = "failed"
            endpoint_changes = {"flagged_at": now}
        owned = self._finish(
            delivery_id, status=status, attempt_count=attempt, next_attempt_at=next_attempt_at
        )
        if owned and endpoint_changes:
            db.session.execute(
                sa.update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.status == "enabled")
                .values(**endpoint_changes)
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        return status if owned else "lease_lost"

    def _finish(self, delivery_id: str, *, status: str, **values: object) -> bool:
        """Set the message's outcome and drop our claim, unless our lease ran out and another
        worker holds it now (then the attempt is still recorded, the state is theirs)."""
        changed = db.session.execute(
            sa.update(EventDelivery)
            .where(EventDelivery.id == delivery_id, EventDelivery.locked_by == self.name)
            .values(status=status, locked_by=None, locked_until=None, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        db.session.commit()
        return bool(changed == 1)

    def run_once(self, poll_interval: float = 0.2) -> int:
        """Deliver due messages until none is due or in flight, or a stop was requested;
        returns how many were attempted.

        Up to ``concurrency`` messages are in flight at once, each delivered in a thread of its
        own (:meth:`_deliver_in_thread`); while any is, due messages are looked for again every
        ``poll_interval`` seconds, so a slow endpoint delays no one else. A database error while
        claiming propagates, once the deliveries in flight have finished.
        """
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        attempted = 0
        in_flight: set[Future[None]] = set()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"deliver-{self.name}") as pool:
            while True:
                while not self.stopping and len(in_flight) < self.concurrency:
                    delivery_id = self.claim()
                    if delivery_id is None:
                        break
                    if self.stopping:
                        self.release(delivery_id)
                        break
                    in_flight.add(pool.submit(self._deliver_in_thread, app, delivery_id))
                if not in_flight:
                    return attempted
                done, in_flight = wait(in_flight, timeout=poll_interval, return_when=FIRST_COMPLETED)
                attempted += len(done)

    def _deliver_in_thread(self, app: Flask, delivery_id: str) -> None:
        """:meth:`deliver` in an application context (so a database session) of its own. An
        error is logged, not raised: the message's lease runs out and it is attempted again."""
        with app.app_context():
            try:
                self.deliver(delivery_id)
            except Exception:
                _rollback()
                log.exception("webhook delivery %s failed; attempted again when its lease ends", delivery_id)

    def run(self, jobs: Sequence[PeriodicJob] = (), poll_interval: float = 1.0) -> None:
        """Loop until SIGTERM or SIGINT: deliver due messages, run each of ``jobs`` when due.

        A signal lets the messages in flight finish (at most ``deadline`` seconds) and be
        recorded; a message claimed but not yet sent is released. Then the loop returns. Any
        error in the loop (a database outage) is rolled back and logged, and the loop goes on
        after a back-off (``ERROR_BACKOFF``: 1 s doubling to 30 s, reset by a clean round).
        """
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        first_backoff, max_backoff = ERROR_BACKOFF
        backoff = first_backoff
        log.info("worker %s started", self.name)
        start_publishing(self.name, self._stop)  # EVENT_BROKER_URL: events to the broker, in a thread
        while not self.stopping:
            try:
                if jobs:
                    run_due_jobs(self.name, list(jobs))  # each runs once per interval across workers
                idle = self.run_once(poll_interval) == 0
            except Exception:
                _rollback()
                log.exception("worker %s: loop failed; trying again in %.0f s", self.name, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            backoff = first_backoff
            if idle:
                self._stop.wait(poll_interval)
        log.info("worker %s stopped", self.name)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("worker %s: signal %d, stopping after the messages in flight", self.name, signum)
        self._stop.set()


def _rollback() -> None:
    """Roll the session back after an error; with the database gone this may fail too, and the
    session is then discarded (the next use reconnects)."""
    try:
        db.session.rollback()
    except Exception:
        log.warning("rollback failed; discarding the session", exc_info=True)
        db.session.remove()


def status_counts() -> dict[str, int]:
    """Messages per status: ``{"pending": n, "retrying": n, "succeeded": n, "failed": n}``."""
    rows = db.session.execute(
        sa.select(EventDelivery.status, sa.func.count()).group_by(EventDelivery.status)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(count) for status, count in rows})
    db.session.rollback()
    return counts
