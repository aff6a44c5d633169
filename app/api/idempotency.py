"""Merchant-facing ``Idempotency-Key`` handling for the API's POST endpoints.

Semantics follow Stripe's: the same key with the same request within 24 hours replays the first
response exactly (status and body, with the header ``Idempotent-Replayed: true``) without doing
the work again; the same key with a different
request is a 422 ``idempotency_key_mismatch``; while the first request is still executing, a
second one gets 409 ``idempotency_key_in_use``. Results that a retry should redo (400 validation
errors, 502 ``gateway_unavailable``) are not stored: the key is released instead.

The key row is claimed and released in short units of work of its own, never held across the
work (which calls Stripe).

Secrets are never stored: a top-level ``"secret"`` member of a response (a webhook endpoint's
signing secret, at creation and rotation) is stored as ``null``. A view that returns one passes
``on_replay``, which rebuilds it (from the database) when the stored body is replayed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response
from sqlalchemy.exc import IntegrityError

from ..db import unit_of_work
from ..errors import Conflict, InvalidRequest, ServiceError, Unprocessable
from ..extensions import db
from ..models import IdempotencyKey, Merchant, utcnow
from ..responses import json_response
from .error_docs import service_error_body

KEY_MAX_LENGTH = 255
RETENTION = timedelta(hours=24)
#: How long a claim lasts; a request that crashed mid-way frees its key after this.
LEASE = timedelta(seconds=60)
#: Error statuses whose outcome is not stored, so that the same request can be retried.
RETRYABLE_STATUSES = frozenset({400, 401, 404, 500, 502, 503})
#: Top-level response members stored as ``null`` (``on_replay`` may restore them).
REDACTED_MEMBERS = ("secret",)

ReplayHook = Callable[[dict[str, Any]], dict[str, Any]]


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 hex of the request's method, path and body (JSON canonicalised when it parses;
    ``b""`` for endpoints that take no body, so that theirs is never parsed)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as stored for replay: members of ``REDACTED_MEMBERS`` replaced by ``None``."""
    return {k: (None if k in REDACTED_MEMBERS else v) for k, v in body.items()}


def _replay(status: int, stored: str, on_replay: ReplayHook | None) -> Response:
    """The stored response again, marked ``Idempotent-Replayed: true`` as Stripe marks it."""
    body = json.loads(stored) if on_replay is not None and stored else None
    if not isinstance(body, dict) or on_replay is None:
        response = Response(stored, status=status, mimetype="application/json")
    else:
        response = json_response(status, on_replay(body))
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(
    merchant: Merchant,
    key: str,
    request_fingerprint: str,
    on_replay: ReplayHook | None = None,
    livemode: bool = True,
) -> IdempotencyKey | Response:
    now = utcnow()
    row = IdempotencyKey(
        merchant_id=merchant.id,
        livemode=livemode,
        key=key,
        request_fingerprint=request_fingerprint,
        locked_until=now + LEASE,
        created_at=now,
    )
    try:
        with unit_of_work() as session:
            session.add(row)
        return row
    except IntegrityError:
        pass
    taken = False
    with unit_of_work():
        existing = db.session.scalars(
            sa.select(IdempotencyKey).where(
                IdempotencyKey.merchant_id == merchant.id,
                IdempotencyKey.livemode == livemode,
                IdempotencyKey.key == key,
            )
        ).one()
        expired = existing.created_at < now - RETENTION
        if expired:
            db.session.delete(existing)
        elif existing.request_fingerprint == request_fingerprint and existing.response_status is None:
            taken = _renew_lease(existing.id, now)
    if expired:
        return _claim(merchant, key, request_fingerprint, on_replay, livemode)
    if existing.request_fingerprint != request_fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_mismatch",
            param="Idempotency-Key",
        )
    if existing.response_status is not None:
        return _replay(existing.response_status, existing.response_body or "", on_replay)
    if not taken:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            code="idempotency_key_in_use",
            param="Idempotency-Key",
        )
    return existing


def _renew_lease(row_id: int, now: datetime) -> bool:
    """Take over the key row ``row_id`` whose first request has no outcome yet, if its lease
    has run out (a compare-and-set UPDATE: of concurrent retries, one wins)."""
    taken = db.session.execute(
        sa.update(IdempotencyKey)
        .where(
            IdempotencyKey.id == row_id,
            IdempotencyKey.response_status.is_(None),
            sa.or_(IdempotencyKey.locked_until.is_(None), IdempotencyKey.locked_until < now),
        )
        .values(locked_until=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(taken == 1)


def _finish(row_id: int, status: int | None, body: str | None) -> None:
    with unit_of_work(fresh=True):  # fresh: whatever the work left open or failed is dropped
        db.session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id)
            .values(locked_until=None, response_status=status, response_body=body)
            .execution_options(synchronize_session=False)
        )


def run_idempotent(
    merchant: Merchant,
    key: str | None,
    request_fingerprint: str,
    work: Callable[[], tuple[int, dict[str, Any]]],
    on_replay: ReplayHook | None = None,
    *,
    livemode: bool = True,
) -> Response:
    """Run ``work`` (returning ``(status, body)``) at most once per ``key`` of the merchant in
    that mode (``livemode``: a test key's idempotency keys are not a live key's); see module doc.

    With no key, ``work`` simply runs. The stored body has its ``REDACTED_MEMBERS`` set to
    ``null``; on a replay, ``on_replay`` (if given) gets that body (a dict) and returns the one
    to send, e.g. with the secret filled in again. Raises :class:`InvalidRequest` for an
    over-long key, :class:`Unprocessable` / :class:`Conflict` as described above, and
    re-raises the :class:`ServiceError` of ``work`` after storing it when it is final.
    """
    if key is None:
        return json_response(*work())
    if not key or len(key) > KEY_MAX_LENGTH:
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} characters.", param="Idempotency-Key"
        )
    claimed = _claim(merchant, key, request_fingerprint, on_replay, livemode)
    if isinstance(claimed, Response):
        return claimed
    row_id = claimed.id
    try:
        status, body = work()
    except ServiceError as exc:
        if exc.status in RETRYABLE_STATUSES:
            _finish(row_id, None, None)
        else:
            _finish(row_id, exc.status, json.dumps(service_error_body(exc)))
        raise
    except BaseException:
        _finish(row_id, None, None)
        raise
    _finish(row_id, status, json.dumps(redacted(body)))
    return json_response(status, body)
