"""Database round trips per request on the three hot paths, counted with SQLAlchemy events.

:func:`hot_path_counts` runs one create, one ``/pay`` and one Stripe webhook through the Flask
test client of an application (against whatever database and Stripe it is configured for) and
returns, for each, what its engine sent: SQL statements (by verb), COMMITs, ROLLBACKs (including
the pool's reset when a connection is returned with a transaction still open; SQLAlchemy skips
it after a commit or rollback, "Reset On Return") and pool checkouts (each one a ping, as the
service runs with ``pool_pre_ping``). Used by ``make bench`` and ``tests/bench``.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

from bench.workload import order_body, stripe_event, stripe_signature


@dataclass
class RoundTrips:
    """What one request sent to the database."""

    statements: Counter[str] = field(default_factory=Counter)  # by first word: SELECT, INSERT, ...
    commits: int = 0
    rollbacks: int = 0
    checkouts: int = 0

    @property
    def total_statements(self) -> int:
        """SQL statements executed (COMMIT and ROLLBACK not included, nor the ``BEGIN IMMEDIATE``
        the service issues on SQLite only)."""
        return sum(n for verb, n in self.statements.items() if verb != "BEGIN")

    def describe(self) -> str:
        """E.g. ``"10 (4 SELECT, 3 UPDATE, 3 INSERT) + 3 COMMIT + 1 ROLLBACK, 2 checkouts"``."""
        verbs = ", ".join(f"{n} {verb}" for verb, n in self.statements.most_common())
        return (
            f"{self.total_statements} ({verbs}) + {self.commits} COMMIT + {self.rollbacks} ROLLBACK, "
            f"{self.checkouts} pool checkouts"
        )


class RoundTripCounter:
    """Counts an engine's round trips into :attr:`current` while :meth:`measure` is active."""

    def __init__(self, engine: Engine) -> None:
        self.current: RoundTrips | None = None
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = [
            (engine, "before_cursor_execute", self._statement),
            (engine, "commit", self._commit),
            (engine, "rollback", self._rollback),
            (engine.pool, "reset", self._reset),
            (engine.pool, "checkout", self._checkout),
        ]
        for target, name, fn in self._listeners:
            event.listen(target, name, fn)

    def close(self) -> None:
        """Stop listening to the engine."""
        for target, name, fn in self._listeners:
            event.remove(target, name, fn)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.current is not None:
            self.current.statements[statement.split(None, 1)[0].upper()] += 1

    def _commit(self, conn: Any) -> None:
        if self.current is not None:
            self.current.commits += 1

    def _rollback(self, conn: Any) -> None:
        if self.current is not None:
            self.current.rollbacks += 1

    def _reset(self, _dbapi_connection: Any, _record: Any, state: Any) -> None:
        if self.current is not None and not state.transaction_was_reset:  # else no ROLLBACK is sent
            self.current.rollbacks += 1

    def _checkout(self, *args: Any) -> None:
        if self.current is not None:
            self.current.checkouts += 1

    @contextmanager
    def measure(self) -> Iterator[RoundTrips]:
        """Count everything sent until the block ends."""
        self.current = RoundTrips()
        try:
            yield self.current
        finally:
            self.current = None


def hot_path_counts(app: Flask, api_key: str, webhook_secret: str) -> dict[str, RoundTrips]:
    """Round trips of one ``POST /api/v1/payments``, one ``GET /pay/<id>`` (of that payment, now
    ``open``) and one signed ``POST /webhooks/stripe`` (a new event), keyed ``create``, ``pay``,
    ``webhook``. Stripe must answer at the app's ``STRIPE_API_BASE``. Raises ``AssertionError``
    if a request does not succeed."""
    from app.extensions import db

    with app.app_context():
        counter = RoundTripCounter(db.engine)
    try:
        return _run_hot_paths(app, counter, api_key, webhook_secret)
    finally:
        counter.close()


def _run_hot_paths(
    app: Flask, counter: RoundTripCounter, api_key: str, webhook_secret: str
) -> dict[str, RoundTrips]:
    client = app.test_client()
    counts = {}
    with counter.measure() as counts["create"]:
        created = client.post(
            "/api/v1/payments",
            data=order_body("count-" + secrets.token_hex(6)),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
    assert created.status_code == 201, created.get_data(as_text=True)
    with counter.measure() as counts["pay"]:
        paid = client.get(f"/pay/{created.get_json()['id']}")
    assert paid.status_code == 303, paid.status_code
    payload = stripe_event("evt_count_" + secrets.token_hex(8))
    with counter.measure() as counts["webhook"]:
        hooked = client.post(
            "/webhooks/stripe",
            data=payload,
            headers={
                "Stripe-Signature": stripe_signature(payload, webhook_secret),
                "Content-Type": "application/json",
            },
        )
    assert hooked.status_code == 200, hooked.get_data(as_text=True)
    return counts
