"""One delivery attempt of one message: claim it (a lease), send it, record the outcome.

:func:`claim`, :func:`deliver` and :func:`release` are the worker's steps: each commits through
units of work of its own (:func:`app.db.unit_of_work`), so none may be open when they are
called. A message is claimed in one: ``SELECT … FOR UPDATE SKIP LOCKED`` (MySQL 8, MariaDB
10.6+, PostgreSQL; :func:`app.db.skip_locked`) so concurrent workers pass over each other's
candidates, then a conditional ``UPDATE`` that sets ``locked_by``/``locked_until`` (a lease). A
delivery takes two more, one that reads what to send and one that records the outcome, and the
HTTP request runs between them with no transaction open. A worker that dies
mid-delivery simply lets its lease run out; the message is then due again, so nothing is lost
(delivery is at least once; merchants deduplicate on ``webhook-id``). SQLite has no ``SKIP
LOCKED``; its writes are serialised, so the conditional ``UPDATE`` alone keeps a single worker
(or a few) correct there.

Retries follow ``retry_schedule`` (``WEBHOOK_RETRY_SCHEDULE``: seconds before retry 1, 2, …,
about 3 days in all by default) with ±10 % jitter; after the last retry the message is failed
and its endpoint flagged. A 410 answer disables the endpoint.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from ..db import assert_no_transaction, skip_locked, unit_of_work
from ..extensions import db
from ..models import Delivery, DeliveryAttempt, WebhookEndpoint, utcnow
from .delivery import Message, Outcome, send
from .endpoints import signing_secrets
from .serializers import event_to_dict
from .settings import NotificationSettings

log = logging.getLogger(__name__)

#: Message statuses that still want an attempt.
DUE_STATUSES = ("pending", "retrying")


def claim(worker_name: str, lease: timedelta) -> str | None:
    """Claim the most overdue message for ``lease``; return its id, or None when nothing is due.
    Each try is a unit of work of its own."""
    while True:
        now = utcnow()
        due = (
            Delivery.status.in_(DUE_STATUSES),
            Delivery.next_attempt_at <= now,
            sa.or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
        )
        query = skip_locked(sa.select(Delivery.id).where(*due).order_by(Delivery.next_attempt_at).limit(1))
        with unit_of_work():
            delivery_id = db.session.scalar(query)
            if delivery_id is None:
                return None
            taken = db.session.execute(
                sa.update(Delivery)
                .where(Delivery.id == delivery_id, *due)
                .values(locked_by=worker_name, locked_until=now + lease)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        if taken == 1:
            return delivery_id
        # Another worker claimed it between our SELECT and UPDATE (SQLite): look again.


def release(delivery_id: str, worker_name: str) -> None:
    """Give up a claim without attempting, so another worker can take it at once (a unit of
    work of its own)."""
    with unit_of_work():
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.locked_by == worker_name)
            .values(locked_by=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class _Planned:
    """What one attempt sends (read before the request, so none of it reloads after)."""

    message: Message
    attempt: int
    event_id: str
    event_type: str


def deliver(delivery_id: str, worker_name: str, settings: NotificationSettings) -> Outcome | None:
    """Attempt the message ``delivery_id`` (claimed by ``worker_name``) once and record the
    outcome; each attempt may take ``settings.attempt_deadline`` seconds in all.

    Two units of work: the first reads what to send, the second records the outcome; the HTTP
    request runs between them. A message whose endpoint is no longer enabled is failed in the
    first, without an attempt (None).
    """
    with unit_of_work():
        db.session.expire_all()
        delivery = db.session.get_one(Delivery, delivery_id)
        endpoint = db.session.get_one(WebhookEndpoint, delivery.endpoint_id)
        endpoint_id, endpoint_status = endpoint.id, endpoint.status
        planned = _plan(delivery, endpoint, settings) if endpoint_status == "enabled" else None
        if planned is None:
            _finish(delivery_id, worker_name, status="failed")
    if planned is None:
        log.info(
            "webhook_skipped msg_id=%s endpoint_id=%s endpoint_status=%s",
            delivery_id,
            endpoint_id,
            endpoint_status,
        )
        return None
    assert_no_transaction("a merchant webhook delivery")
    outcome = send(
        planned.message, allow_private=settings.allow_private_urls, deadline=settings.attempt_deadline
    )
    with unit_of_work():
        result = _record(
            delivery_id, worker_name, endpoint_id, planned.attempt, outcome, settings.retry_schedule
        )
    log.info(
        "webhook_attempt msg_id=%s event_id=%s type=%s endpoint_id=%s attempt=%d status_code=%s "
        "latency_ms=%d result=%s error=%s worker=%s",
        delivery_id, planned.event_id, planned.event_type, endpoint_id, planned.attempt,
        outcome.status_code, outcome.latency_ms, result, json.dumps(outcome.error), worker_name,
    )  # fmt: skip
    return outcome


def _plan(delivery: Delivery, endpoint: WebhookEndpoint, settings: NotificationSettings) -> _Planned:
    event = delivery.event
    message = Message(
        id=delivery.id,
        url=endpoint.url,
        body=json.dumps(event_to_dict(event)),
        secrets=signing_secrets(endpoint, utcnow(), settings),
    )
    return _Planned(message, delivery.attempt_count + 1, event.id, event.type)


def _record(
    delivery_id: str,
    worker_name: str,
    endpoint_id: str,
    attempt: int,
    outcome: Outcome,
    schedule: tuple[int, ...],
) -> str:
    """Store the attempt and move the message on, in the caller's unit of work; returns the
    message's new status."""
    now = utcnow()
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
    owned = _finish(
        delivery_id, worker_name, status=status, attempt_count=attempt, next_attempt_at=next_attempt_at
    )
    if owned and endpoint_changes:
        db.session.execute(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.status == "enabled")
            .values(**endpoint_changes)
            .execution_options(synchronize_session=False)
        )
    return status if owned else "lease_lost"


def _finish(delivery_id: str, worker_name: str, *, status: str, **values: object) -> bool:
    """Set the message's outcome and drop our claim, unless our lease ran out and another
    worker holds it now (then the attempt is still recorded, the state is theirs)."""
    changed = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.locked_by == worker_name)
        .values(status=status, locked_by=None, locked_until=None, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed == 1)
