"""The notification worker: the loop that delivers due messages and runs the periodic jobs.

Many workers on many machines may share one MySQL/MariaDB or PostgreSQL database; each message is
claimed, sent and recorded by :mod:`app.notifications.attempts` (a lease per message, no
transaction open across the HTTP request), each periodic job run once per interval by
:mod:`app.scheduler`.

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

import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import timedelta
from types import FrameType

from flask import Flask, current_app

from ..db import reset_after_error
from ..scheduler import PeriodicJob, run_due_jobs
from . import attempts
from .delivery import Outcome
from .publisher import start_publishing
from .settings import NotificationSettings, current_settings

log = logging.getLogger(__name__)

#: How long a claim lasts at least: several attempt deadlines (10 s by default) plus bookkeeping.
LEASE = timedelta(seconds=60)
#: Seconds to wait after an error in the loop (the database down): doubling up to the second.
ERROR_BACKOFF = (1.0, 30.0)


class Worker:
    """One worker process (or thread, in tests); runs in an application context.

    ``settings``: what it runs on (default: read from the application's config when the worker
    first needs them, i.e. at its start). ``deadline``: seconds one attempt may take in all, and
    ``concurrency``: messages delivered at once, override the settings'. ``lease``: how long a
    claim lasts (default 60 s, or three deadlines if longer).
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        settings: NotificationSettings | None = None,
        deadline: float | None = None,
        concurrency: int | None = None,
        lease: timedelta | None = None,
    ):
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._given, self._deadline, self._concurrency, self._lease = settings, deadline, concurrency, lease
        self._settings: NotificationSettings | None = None
        self._stop = threading.Event()

    @property
    def settings(self) -> NotificationSettings:
        """The settings the worker runs on (read once, at their first use), with its own
        ``deadline`` and ``concurrency`` when given."""
        if self._settings is None:
            settings = self._given or current_settings()
            self._settings = replace(
                settings,
                attempt_deadline=self._deadline or settings.attempt_deadline,
                concurrency=self._concurrency or settings.concurrency,
            )
        return self._settings

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts."""
        return self._lease or max(LEASE, timedelta(seconds=3 * self.settings.attempt_deadline))

    @property
    def stopping(self) -> bool:
        """Whether SIGTERM/SIGINT asked the worker to stop."""
        return self._stop.is_set()

    def claim(self) -> str | None:
        """Claim the most overdue message (:func:`app.notifications.attempts.claim`); return its
        id, or None when nothing is due."""
        return attempts.claim(self.name, self.lease)

    def deliver(self, delivery_id: str) -> Outcome | None:
        """Attempt the claimed message ``delivery_id`` once and record the outcome
        (:func:`app.notifications.attempts.deliver`)."""
        return attempts.deliver(delivery_id, self.name, self.settings)

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
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix=f"deliver-{self.name}") as pool:
            while True:
                while not self.stopping and len(in_flight) < self.settings.concurrency:
                    delivery_id = self.claim()
                    if delivery_id is None:
                        break
                    if self.stopping:
                        attempts.release(delivery_id, self.name)
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
                reset_after_error()
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
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        start_publishing(app, self.name, self._stop, self.settings)  # EVENT_BROKER_URL: in a thread
        while not self.stopping:
            try:
                if jobs:
                    run_due_jobs(self.name, list(jobs))  # each runs once per interval across workers
                idle = self.run_once(poll_interval) == 0
            except Exception:
                reset_after_error()
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
