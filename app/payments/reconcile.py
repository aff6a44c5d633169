"""Reconciliation: catch up with Stripe when webhooks were missed.

:func:`reconcile` (``flask --app wsgi payments reconcile``, and the worker on a schedule) does
three sweeps, each through the same code paths as the webhook, so whatever it applies is
applied exactly once however often it runs:

1. **Events.** Stripe keeps events for 30 days and lists them through its Events API
   (``GET /v1/events``, filtered by ``types`` and ``created``), of each account (live and
   test mode; an account's events touch only payments of its mode). Every event of a type we
   handle that we have not processed yet (no ``stripe_events`` row) goes through
   :func:`~app.payments.stripe_events.process_event` with source ``reconcile``, oldest first —
   so an endpoint that was down loses nothing, not even the timeline of declined attempts.
2. **Payments** still ``pending``, ``open`` or ``processing`` whose last change is older than
   ``older_than`` seconds, each through the gateway of its mode: a ``pending`` one (its
   Checkout Session creation never completed) is completed (``open``, same idempotency key,
   so never a second session) or ``failed``;
   then the Checkout Session is retrieved and applied
   (:func:`~app.payments.fulfilment.apply_checkout_session`): ``succeeded`` + fulfilment,
   ``processing``, ``failed`` or ``expired``.
3. **Refunds** still ``pending`` after ``older_than`` seconds: retrieved (or found by
   ``metadata.refund_id``, or sent again under ``refund-<id>``) and settled
   (:func:`refresh_refund`).

With ``dry_run`` the same work is done but every unit of work is rolled back (and nothing is
sent to Stripe), so the report says what *would* change.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from ..db import unit_of_work
from ..errors import GatewayUnavailable, Unprocessable
from ..extensions import db
from ..models import Payment, ProcessedStripeEvent, Refund, utcnow
from ..stripe_gateway import GatewayDown, GatewayError, StripeGateway, StripeGateways
from .creation import open_checkout_session
from .refund_settlement import apply_stripe_refund, reload_refund, run_settlement
from .refunds import send_refund
from .states import UNSETTLED, PaymentStatus, RefundStatus, Source
from .stripe_events import HANDLED_TYPES, process_event
from .sync import sync_checkout_session

log = logging.getLogger(__name__)

#: Default age (seconds) after which an unsettled payment or refund is checked with Stripe.
DEFAULT_OLDER_THAN = 600
#: How far back the Events API is read (seconds): Stripe keeps events for 30 days.
EVENTS_WINDOW = 30 * 24 * 3600

T = TypeVar("T")
#: ``progress(items, label)``: a context manager yielding ``items`` while showing progress
#: (``click.progressbar`` fits).
Progress = Callable[[Sequence[Any], str], ContextManager[Iterable[Any]]]


@dataclass
class Change:
    """One object reconciliation changed (or, in a dry run, would change)."""

    object_id: str
    before: str
    after: str
    cause: str

    def __str__(self) -> str:
        return f"{self.object_id}: {self.before} → {self.after} ({self.cause})"


@dataclass
class ReconcileReport:
    """What a :func:`reconcile` run did. Counts are of objects looked at; ``changes`` lists
    what changed; ``errors`` are ``"<id>: <message>"`` strings (the run carries on past them)."""

    dry_run: bool = False
    events_unseen: int = 0
    events_processed: int = 0
    payments_checked: int = 0
    refunds_checked: int = 0
    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``reconcile: 2 events processed (of 2 unseen), 3 payments and 1 refund
        checked, 2 changed, 0 errors`` (``reconcile (dry run): … would change``)."""
        head = "reconcile (dry run)" if self.dry_run else "reconcile"
        verb = "would change" if self.dry_run else "changed"
        processed = "would be processed" if self.dry_run else "processed"
        return (
            f"{head}: {self.events_processed} events {processed} (of {self.events_unseen} unseen), "
            f"{self.payments_checked} payments and {self.refunds_checked} refunds checked, "
            f"{len(self.changes)} {verb}, {len(self.errors)} errors"
        )


def _no_progress(items: Sequence[T], label: str) -> ContextManager[Iterable[T]]:
    return contextlib.nullcontext(items)


def reconcile(
    gateways: StripeGateways,
    older_than: int = DEFAULT_OLDER_THAN,
    dry_run: bool = False,
    progress: Progress | None = None,
    *,
    events_window: int = EVENTS_WINDOW,
) -> ReconcileReport:
    """Bring payments and refunds in line with Stripe (``gateways``: both accounts; each
    payment through its mode's); see the module docstring.

    ``older_than``: seconds since a ``pending``/``open``/``processing`` payment or a
    ``pending`` refund last changed before it is checked. ``events_window``: seconds of
    Stripe events to read (0: skip the events sweep). ``progress`` wraps each sweep's items
    (see :data:`Progress`).
    Needs an application context. Never raises for one object's failure (Stripe unreachable,
    an unexpected error): it is logged, added to ``errors`` and the run goes on; a failure to
    list events is one error too.
    """
    report = ReconcileReport(dry_run=dry_run)
    wrap = progress or _no_progress
    now = utcnow()
    touched: set[str] = set()
    if events_window > 0:
        since = now - timedelta(seconds=events_window)
        for livemodes, account in gateways.accounts():
            _sweep_events(
                report, since, dry_run, wrap, touched, gateways=gateways, account=(livemodes, account)
            )
    cutoff = now - timedelta(seconds=older_than)
    _sweep_payments(report, gateways, cutoff, dry_run, wrap, touched)
    _sweep_refunds(report, gateways, cutoff, dry_run, wrap)
    return report


def _sweep_events(
    report: ReconcileReport,
    since: datetime,
    dry_run: bool,
    wrap: Progress,
    touched: set[str],
    *,
    gateways: StripeGateways,
    account: tuple[frozenset[bool], StripeGateway],
) -> None:
    """The events sweep over one Stripe ``account``: ``(its modes, its gateway)``."""
    livemodes, gateway = account
    try:
        events = gateway.list_events(created_gte=int(since.timestamp()), types=list(HANDLED_TYPES))
    except GatewayError as exc:
        report.errors.append(f"events: could not list Stripe events: {exc.message}")
        return
    seen: set[str] = set()
    ids = [event["id"] for event in events]
    with unit_of_work(fresh=True):  # a read, ended before the events are processed
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            seen.update(
                db.session.scalars(
                    sa.select(ProcessedStripeEvent.id).where(ProcessedStripeEvent.id.in_(chunk))
                )
            )
    unseen = [event for event in events if event["id"] not in seen]
    report.events_unseen = len(unseen)
    with wrap(unseen, "Stripe events") as items:
        for event in items:
            try:
                result = process_event(
                    event, gateways, livemodes=livemodes, source=Source.RECONCILE, dry_run=dry_run
                )
            except Exception as exc:  # noqa: BLE001 - one event must not stop the run
                _error(report, event["id"], exc)
                continue
            if result.outcome == "processed":
                report.events_processed += 1
            if result.payment_id and result.changed:
                touched.add(result.payment_id)
                report.changes.append(
                    Change(
                        result.payment_id,
                        _describe(result.status_before, result.amount_refunded_before),
                        _describe(result.status_after, result.amount_refunded_after),
                        f"event {event['id']} {event['type']}",
                    )
                )


def _describe(status: str | None, amount_refunded: int | None) -> str:
    if amount_refunded:
        return f"{status} (refunded {amount_refunded})"
    return str(status)


def _sweep_payments(
    report: ReconcileReport,
    gateways: StripeGateways,
    cutoff: datetime,
    dry_run: bool,
    wrap: Progress,
    touched: set[str],
) -> None:
    with unit_of_work(fresh=True):  # a read, ended before the payments are checked
        ids = list(
            db.session.scalars(
                sa.select(Payment.id)
                .where(Payment.status.in_(UNSETTLED), Payment.updated_at <= cutoff)
                .order_by(Payment.updated_at, Payment.id)
            )
        )
    if dry_run:  # already reported as changed by an event of this run
        ids = [payment_id for payment_id in ids if payment_id not in touched]
    with wrap(ids, "payments") as items:
        for payment_id in items:
            report.payments_checked += 1
            try:
                change = _reconcile_payment(payment_id, gateways, dry_run)
            except Exception as exc:  # noqa: BLE001 - one payment must not stop the run
                _error(report, payment_id, exc)
                continue
            if change is not None:
                report.changes.append(change)


def _reconcile_payment(payment_id: str, gateways: StripeGateways, dry_run: bool) -> Change | None:
    """Apply Stripe's truth (from the account of its mode) about one unsettled payment; the
    change made, if any."""
    with unit_of_work(fresh=True):  # a read, ended before Stripe is called
        payment = db.session.get(Payment, payment_id)
        if payment is None or payment.status not in UNSETTLED:
            return None
        gateway = gateways.for_mode(payment.livemode)
        before = payment.status
        cause = f"Checkout Session {payment.stripe_checkout_session_id}"
    if before == PaymentStatus.PENDING:
        if dry_run:
            return Change(payment_id, before, "open or failed", "would retry creating its Checkout Session")
        try:
            open_checkout_session(payment, gateway, source=Source.RECONCILE)
        except GatewayUnavailable as exc:
            raise GatewayDown(exc.message) from exc
        except Unprocessable:
            pass  # Stripe refused: the payment is now failed, with the reason
        cause = f"Checkout Session creation retried ({payment.stripe_checkout_session_id or 'refused'})"
    session_id = payment.stripe_checkout_session_id
    if session_id is None:
        status = payment.status
        return Change(payment_id, before, status, cause) if status != before else None
    after = (
        sync_checkout_session(session_id, gateway, source=Source.RECONCILE, dry_run=dry_run).status or before
    )
    return Change(payment_id, before, after, cause) if after != before else None


def _sweep_refunds(
    report: ReconcileReport, gateways: StripeGateways, cutoff: datetime, dry_run: bool, wrap: Progress
) -> None:
    with unit_of_work(fresh=True):  # a read, ended before the refunds are checked
        ids = list(
            db.session.scalars(
                sa.select(Refund.id)
                .where(Refund.status == RefundStatus.PENDING, Refund.updated_at <= cutoff)
                .order_by(Refund.updated_at, Refund.id)
            )
        )
    with wrap(ids, "refunds") as items:
        for refund_id in items:
            report.refunds_checked += 1
            try:
                after, cause = refresh_refund(refund_id, gateways, source=Source.RECONCILE, dry_run=dry_run)
            except Exception as exc:  # noqa: BLE001 - one refund must not stop the run
                _error(report, refund_id, exc)
                continue
            if after != RefundStatus.PENDING:
                report.changes.append(Change(refund_id, RefundStatus.PENDING.value, after, cause))


def _error(report: ReconcileReport, object_id: str, exc: Exception) -> None:
    if isinstance(exc, GatewayError):
        report.errors.append(f"{object_id}: Stripe: {exc.message}")
        log.warning("reconcile %s: Stripe: %s", object_id, exc.message)
    else:
        report.errors.append(f"{object_id}: {type(exc).__name__}: {exc}")
        log.exception("reconcile %s failed", object_id)


def refresh_refund(
    refund_id: str, gateways: StripeGateways, *, source: str, dry_run: bool = False
) -> tuple[str, str]:
    """Reconcile one ``pending`` refund with Stripe, through the account of its payment's mode
    (no transaction open during the calls).

    Known to Stripe: retrieve it and settle. Not known (our call never got an answer): look
    for it among the PaymentIntent's refunds by ``metadata.refund_id``, else send it again
    under the same idempotency key (not in a ``dry_run``, which also rolls back instead of
    committing). Returns ``(status after, what was done)``. Raises :class:`GatewayDown` when
    Stripe cannot be reached.
    """
    refund = reload_refund(refund_id)
    with unit_of_work():  # a read, ended before Stripe is called
        payment = db.session.get(Payment, refund.payment_id)
        assert payment is not None
        intent_id = payment.stripe_payment_intent_id
        stripe_id = refund.stripe_refund_id
        gateway = gateways.for_mode(payment.livemode)
    if stripe_id:
        answer = gateway.retrieve_refund(stripe_id)
        cause = f"Stripe refund {stripe_id}"
    else:
        found = [
            r
            for r in (gateway.list_refunds(payment_intent=intent_id) if intent_id else [])
            if (r.get("metadata") or {}).get("refund_id") == refund_id
        ]
        if not found:
            if dry_run:
                return RefundStatus.PENDING.value, "would send it to Stripe again"
            try:
                refund = send_refund(refund, gateway, intent_id=intent_id, source=source)
            except Unprocessable:
                refund = reload_refund(refund_id)
            return refund.status, "sent to Stripe again"
        answer = found[0]
        cause = f"found at Stripe as {answer['id']}"
    statuses: list[str] = []

    def settle() -> None:
        settled = apply_stripe_refund(answer, source=source)
        statuses.append(settled.status if settled is not None else RefundStatus.PENDING.value)

    run_settlement(settle, dry_run=dry_run)
    return statuses[-1], cause
