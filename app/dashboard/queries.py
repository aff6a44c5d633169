"""What the dashboard reads: merchant-scoped lookups, filtered lists and the home page figures.

Every query is scoped by ``merchant_id`` and shaped for an index (migration 0004): lists run
newest first on ``(merchant_id, [status,] created_at, id)`` with keyset (cursor) pagination, a
search is an equality on ``id``, ``(merchant_id, order_id)`` or ``(merchant_id,
customer_email)``. Related rows are loaded with one ``IN`` query per table, never one per row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import contains_eager

from ..errors import InvalidRequest
from ..extensions import db
from ..models import (
    Delivery,
    DeliveryAttempt,
    MerchantEvent,
    Payment,
    Refund,
    TimelineEntry,
    WebhookEndpoint,
    utcnow,
)
from ..payments.currencies import SUPPORTED
from ..payments.states import PaymentStatus

#: A payment still ``pending``/``processing`` after this long needs a look.
STUCK_AFTER = timedelta(hours=1)
CHART_DAYS = 30
#: Statuses counted as money received (before refunds) for gross volume and success rate.
PAID = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
#: Ended without payment.
UNPAID = (PaymentStatus.FAILED, PaymentStatus.EXPIRED)


def payment_or_404(merchant_id: str, payment_id: str, livemode: bool) -> Payment:
    """The merchant's payment ``payment_id`` of mode ``livemode``; 404 for an unknown, another
    merchant's or the other mode's id."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or (payment.merchant_id, payment.livemode) != (merchant_id, livemode):
        abort(404)
    return payment


def endpoint_or_404(merchant_id: str, endpoint_id: str, livemode: bool) -> WebhookEndpoint:
    """The merchant's (not deleted) webhook endpoint of mode ``livemode``; 404 otherwise."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or (endpoint.merchant_id, endpoint.livemode) != (merchant_id, livemode)
        or endpoint.status == "deleted"
    ):
        abort(404)
    return endpoint


def event_or_404(merchant_id: str, event_id: str, livemode: bool) -> MerchantEvent:
    """The merchant's event ``event_id`` of mode ``livemode``; 404 otherwise."""
    event = db.session.get(MerchantEvent, event_id)
    if event is None or (event.merchant_id, event.livemode) != (merchant_id, livemode):
        abort(404)
    return event


@dataclass
class PaymentFilters:
    """The payments list's filters, from the query string. ``created_to`` is inclusive (a day)."""

    status: str | None = None
    currency: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> PaymentFilters:
        """Parse ``status``, ``currency``, ``created_from``, ``created_to`` (YYYY-MM-DD) and
        ``q``; empty values are ignored. Raises :class:`InvalidRequest` naming the parameter."""
        status = (args.get("status") or "").strip() or None
        if status is not None and status not in {s.value for s in PaymentStatus}:
            raise InvalidRequest(f"Unknown status {status!r}.", param="status")
        currency = (args.get("currency") or "").strip().lower() or None
        if currency is not None and currency not in SUPPORTED:
            raise InvalidRequest(f"Unknown currency {currency!r}.", param="currency")
        return cls(
            status=status,
            currency=currency,
            created_from=_date(args, "created_from"),
            created_to=_date(args, "created_to"),
            q=(args.get("q") or "").strip() or None,
        )

    def as_args(self) -> dict[str, str]:
        """The non-empty filters as query-string arguments (for links and the CSV export)."""
        values = {
            "status": self.status,
            "currency": self.currency,
            "created_from": self.created_from.isoformat() if self.created_from else None,
            "created_to": self.created_to.isoformat() if self.created_to else None,
            "q": self.q,
        }
        return {k: v for k, v in values.items() if v}

    def query(self, merchant_id: str, livemode: bool) -> sa.Select[tuple[Payment]]:
        """The filtered select of the merchant's payments of mode ``livemode`` (unordered: the
        caller orders and pages).

        ``q`` is matched exactly: a ``pay_…`` id, an email (contains ``@``, case-insensitive,
        as emails are compared), otherwise an order id.
        """
        query = sa.select(Payment).where(Payment.merchant_id == merchant_id, Payment.livemode == livemode)
        if self.status:
            query = query.where(Payment.status == self.status)
        if self.currency:
            query = query.where(Payment.currency == self.currency)
        if self.created_from:
            query = query.where(Payment.created_at >= _midnight(self.created_from))
        if self.created_to:
            query = query.where(Payment.created_at < _midnight(self.created_to + timedelta(days=1)))
        if self.q:
            if self.q.startswith("pay_"):
                query = query.where(Payment.id == self.q)
            elif "@" in self.q:
                query = query.where(Payment.customer_email.in_({self.q, self.q.lower()}))
            else:
                query = query.where(Payment.order_id == self.q)
        return query


def _date(args: Any, name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date like 2026-11-21.", param=name) from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def newest_first(query: sa.Select[Any]) -> sa.Select[Any]:
    """``query`` over payments ordered newest first, matching the (…, created_at, id) indexes."""
    return query.order_by(Payment.created_at.desc(), Payment.id.desc())


@dataclass
class PaymentDetail:
    """Everything the payment page shows besides the payment: its timeline, refunds, merchant
    events, each event's messages and each message's attempts (4 queries in all)."""

    timeline: list[TimelineEntry]
    refunds: list[Refund]
    events: list[MerchantEvent]
    deliveries: dict[str, list[Delivery]] = field(default_factory=dict)
    attempts: dict[str, list[DeliveryAttempt]] = field(default_factory=dict)


def payment_detail(payment: Payment) -> PaymentDetail:
    """Load :class:`PaymentDetail` for ``payment`` (oldest first, as a story reads)."""
    timeline = db.session.scalars(
        sa.select(TimelineEntry)
        .where(TimelineEntry.payment_id == payment.id)
        .order_by(TimelineEntry.created_at, TimelineEntry.id)
    ).all()
    refunds = db.session.scalars(
        sa.select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.created_at, Refund.id)
    ).all()
    events = db.session.scalars(
        sa.select(MerchantEvent)
        .where(MerchantEvent.payment_id == payment.id)
        .order_by(MerchantEvent.created_at, MerchantEvent.id)
    ).all()
    detail = PaymentDetail(list(timeline), list(refunds), list(events))
    deliveries = _deliveries_of([e.id for e in events])
    for delivery in deliveries:
        detail.deliveries.setdefault(delivery.event_id, []).append(delivery)
    detail.attempts = attempts_of([d.id for d in deliveries])
    return detail


def _deliveries_of(event_ids: list[str]) -> list[Delivery]:
    if not event_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(Delivery.event_id.in_(event_ids))
            .order_by(Delivery.created_at, Delivery.id)
        ).all()
    )


def attempts_of(delivery_ids: list[str]) -> dict[str, list[DeliveryAttempt]]:
    """Attempts per message id, oldest first (one query)."""
    result: dict[str, list[DeliveryAttempt]] = {}
    if not delivery_ids:
        return result
    for attempt in db.session.scalars(
        sa.select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(delivery_ids))
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    ):
        result.setdefault(attempt.delivery_id, []).append(attempt)
    return result


def refunds_query(merchant_id: str, status: str | None, livemode: bool) -> sa.Select[tuple[Refund]]:
    """The merchant's refunds of mode ``livemode``, each with its payment loaded in the same
    query (scoped through the payment; unordered: the caller orders and pages)."""
    query = (
        sa.select(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.merchant_id == merchant_id, Payment.livemode == livemode)
        .options(contains_eager(Refund.payment))
    )
    if status:
        query = query.where(Refund.status == status)
    return query


def endpoints_of(merchant_id: str, livemode: bool) -> list[WebhookEndpoint]:
    """The merchant's webhook endpoints of mode ``livemode`` that are not deleted, oldest first."""
    return list(
        db.session.scalars(
            sa.select(WebhookEndpoint)
            .where(
                WebhookEndpoint.merchant_id == merchant_id,
                WebhookEndpoint.livemode == livemode,
                WebhookEndpoint.status != "deleted",
            )
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        ).all()
    )


def recent_deliveries(
    endpoint_id: str, *, failed_only: bool, limit: int = 25
) -> list[tuple[Delivery, MerchantEvent]]:
    """The endpoint's most recent messages with their event, newest first. ``failed_only``
    keeps the ones not delivered yet after an attempt (``retrying``) or given up (``failed``)."""
    query = (
        sa.select(Delivery, MerchantEvent)
        .join(MerchantEvent, MerchantEvent.id == Delivery.event_id)
        .where(Delivery.endpoint_id == endpoint_id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if failed_only:
        query = query.where(Delivery.status.in_(("retrying", "failed")))
    return [(row[0], row[1]) for row in db.session.execute(query).all()]


@dataclass
class HomeFigures:
    """The home page: per-day series for the last :data:`CHART_DAYS` days, and what needs a look.

    ``volume[currency][day]`` is the gross paid amount in minor units (payments created that day
    that were paid, before refunds); ``counts[day]`` the payments created that day.
    """

    days: list[date]
    volume: dict[str, dict[date, int]]
    counts: dict[date, int]
    by_status: dict[str, int]
    success_rate: float | None
    stuck: list[Payment]
    failing_endpoints: list[tuple[WebhookEndpoint, int]]


def daily_figures_query(merchant_id: str, since: datetime, livemode: bool) -> sa.Select[Any]:
    """Rows ``(day, status, currency, count, sum of amount_total)`` of the merchant's payments
    of mode ``livemode`` created since ``since``, answered from ``ix_payments_merchant_figures`` alone."""
    day = sa.func.date(Payment.created_at)
    return (
        sa.select(day, Payment.status, Payment.currency, sa.func.count(), sa.func.sum(Payment.amount_total))
        .where(Payment.merchant_id == merchant_id, Payment.created_at >= since, Payment.livemode == livemode)
        .group_by(day, Payment.status, Payment.currency)
    )


def home_figures(merchant_id: str, now: datetime | None = None, *, livemode: bool) -> HomeFigures:
    """Compute :class:`HomeFigures` for the merchant's objects of mode ``livemode``: one grouped
    query plus two short lists.

    The success rate is paid / (paid + failed + expired) over the window: open and pending
    payments have not decided yet. None when nothing has decided.
    """
    now = now or utcnow()
    today = now.date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]

    counts: dict[date, int] = defaultdict(int)
    volume: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    by_status: dict[str, int] = defaultdict(int)
    rows = db.session.execute(daily_figures_query(merchant_id, _midnight(days[0]), livemode)).all()
    for raw_day, status, currency, count, total in rows:
        when = date.fromisoformat(str(raw_day)[:10])
        counts[when] += count
        by_status[status] += count
        if status in PAID:
            volume[currency][when] += int(total or 0)
    paid = sum(by_status.get(s, 0) for s in PAID)
    decided = paid + sum(by_status.get(s, 0) for s in UNPAID)

    stuck = db.session.scalars(
        newest_first(
            sa.select(Payment).where(
                Payment.merchant_id == merchant_id,
                Payment.livemode == livemode,
                Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.PROCESSING)),
                Payment.created_at < now - STUCK_AFTER,
            )
        ).limit(10)
    ).all()
    failing = db.session.execute(
        sa.select(WebhookEndpoint, sa.func.count(Delivery.id))
        .outerjoin(
            Delivery,
            sa.and_(
                Delivery.endpoint_id == WebhookEndpoint.id,
                Delivery.status.in_(("retrying", "failed")),
            ),
        )
        .where(
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.livemode == livemode,
            WebhookEndpoint.status != "deleted",
        )
        .group_by(WebhookEndpoint.id)
        .order_by(WebhookEndpoint.created_at)
    ).all()
    return HomeFigures(
        days=days,
        volume={c: dict(v) for c, v in sorted(volume.items())},
        counts=dict(counts),
        by_status=dict(by_status),
        success_rate=(paid / decided) if decided else None,
        stuck=list(stuck),
        failing_endpoints=[
            (endpoint, int(n))
            for endpoint, n in failing
            if n or endpoint.flagged_at is not None or endpoint.status == "disabled"
        ],
    )
