"""Database models (SQLAlchemy 2 typed declarative).

Amounts are integers in the currency's minor unit. Times are stored as naive UTC and come back
timezone-aware (UTC) through :class:`UTCDateTime`. Ids are prefixed random strings
(``mer_``, ``pay_``, ``rf_``) as Stripe's are.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .payments.states import PaymentStatus, RefundStatus

#: A message's status (:class:`Delivery`) and a webhook endpoint's (:class:`WebhookEndpoint`).
DELIVERY_STATUSES = ("pending", "retrying", "succeeded", "failed")
ENDPOINT_STATUSES = ("enabled", "disabled", "deleted")


def status_check(table: str, values: Any) -> sa.CheckConstraint:
    """``CHECK (status IN (…))`` named ``ck_<table>_status`` (migration 0010): the database
    refuses a status the code does not know."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"status IN ({allowed})", name=f"ck_{table}_status")


def new_id(prefix: str) -> str:
    """A fresh object id: ``prefix`` + ``_`` + 24 random hex characters."""
    return f"{prefix}_{secrets.token_hex(12)}"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


#: The collation of ids, keys, order ids, Stripe ids and hashes on MariaDB: compares bytes
#: exactly (case- and trailing-space-sensitive; utf8mb4_bin would ignore trailing spaces). SQLite
#: compares text so already. Migration 0003 sets it (utf8mb4_0900_bin on MySQL 8).
BINARY_COLLATION = "utf8mb4_nopad_bin"


def binary_string(length: int) -> sa.types.TypeEngine[str]:
    """``VARCHAR(length)`` compared byte for byte: Stripe ids are case-sensitive, and so are
    our ids, order ids and ``Idempotency-Key`` values."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation=BINARY_COLLATION), "mysql"
    )


def id_number(text: str, column: Any) -> int | None:
    """``text`` as a value of the integer id ``column``, or None when it is not a decimal number
    or is beyond what the column holds (a 32-bit INTEGER, or a 64-bit BIGINT): such an id names
    no row, and PostgreSQL refuses to compare an out-of-range number with the column."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    bits = 63 if isinstance(column.type, sa.BigInteger) else 31
    return number if number < 2**bits else None


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A DATETIME holding UTC: aware datetimes in, aware (UTC) datetimes out.

    Microsecond precision on MySQL/MariaDB (``DATETIME(6)``) so that ordering by time is stable.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Merchant(db.Model):  # type: ignore[name-defined]
    """A merchant: who creates payments, and the hosts its shoppers may be sent back to."""

    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("mer"))
    name: Mapped[str] = mapped_column(sa.String(200))
    allowed_domains: Mapped[list[str]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Where shoppers write with questions about a payment; shown on the receipt (None: not shown).
    support_email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="merchant")


class ApiKey(db.Model):  # type: ignore[name-defined]
    """An API key. Only its SHA-256 hash is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    key_hash: Mapped[str] = mapped_column(binary_string(64), unique=True)
    prefix: Mapped[str] = mapped_column(binary_string(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When the key last authenticated a request, to the minute (written at most once a minute).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A rolled key works until then (None: until revoked).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A test key (``mk_test_…``, False) sees and makes only test-mode objects; a live key
    #: (``mk_live_…`` or a key from before test mode, ``mk_…``) only live ones.
    livemode: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())

    merchant: Mapped[Merchant] = relationship(back_populates="api_keys")


class Payment(db.Model):  # type: ignore[name-defined]
    """The processing record of one order's payment attempt through a Checkout Session.

    ``live_order_id`` equals ``order_id`` while the payment can still succeed and is NULL once
    it ended ``failed`` or ``expired``: a unique constraint on (merchant, mode, live_order_id)
    lets the database refuse a second live payment for the same order in the same mode.
    """

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "livemode", "live_order_id", name="uq_payments_mode_live_order"),
        sa.Index("ix_payments_merchant_created", "merchant_id", "created_at", "id"),
        sa.Index("ix_payments_status_updated", "status", "updated_at"),
        status_check("payments", [status.value for status in PaymentStatus]),
    )

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("pay"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    order_id: Mapped[str] = mapped_column(binary_string(64), index=True)
    live_order_id: Mapped[str | None] = mapped_column(binary_string(64), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(24))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_total: Mapped[int] = mapped_column(sa.BigInteger)
    amount_refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    customer_email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON)
    success_url: Mapped[str] = mapped_column(sa.String(2048))
    cancel_url: Mapped[str] = mapped_column(sa.String(2048))
    checkout_url: Mapped[str] = mapped_column(sa.String(2048))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    request_fingerprint: Mapped[str] = mapped_column(binary_string(64))
    stripe_idempotency_key: Mapped[str] = mapped_column(binary_string(64))
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(
        binary_string(255), unique=True, nullable=True
    )
    stripe_checkout_url: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(
        binary_string(255), index=True, nullable=True
    )
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failure_code: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    failure_decline_code: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    #: When a create of this payment was first answered 502 ``gateway_unavailable``: from then on
    #: the same request is answered with this payment, whatever opened it (app.payments.creation).
    gateway_unavailable_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The Stripe payment method types the merchant asked for (``["card", "alipay"]``); None:
    #: Stripe's dynamic payment methods (app.payments.payment_methods).
    payment_method_types: Mapped[list[str] | None] = mapped_column(sa.JSON, nullable=True)
    #: What the shopper paid with, from the charge once the payment succeeded:
    #: ``{"type": "card", "card": {"brand": "visa", "last4": "4242"}}``.
    payment_method_details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    #: False for a test-mode object (made with an ``mk_test_…`` key, against the test Stripe account).
    livemode: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())

    merchant: Mapped[Merchant] = relationship()


class Refund(db.Model):  # type: ignore[name-defined]
    """A refund of (part of) a succeeded payment, mirrored from Stripe's Refund object."""

    __tablename__ = "refunds"
    __table_args__ = (status_check("refunds", [status.value for status in RefundStatus]),)

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("rf"))
    payment_id: Mapped[str] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    reason: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(binary_string(255), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship()


class TimelineEntry(db.Model):  # type: ignore[name-defined]
    """One entry of a payment's timeline: what happened, when, from which source, caused by what.

    ``source`` is an :class:`app.payments.states.Source`: api, redirect, webhook, reconcile, worker
    or dashboard.
    """

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    payment_id: Mapped[str] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    refund_id: Mapped[str | None] = mapped_column(binary_string(32), nullable=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    source: Mapped[str] = mapped_column(sa.String(16))
    stripe_event_id: Mapped[str | None] = mapped_column(binary_string(255), nullable=True)
    stripe_object_id: Mapped[str | None] = mapped_column(binary_string(255), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessedStripeEvent(db.Model):  # type: ignore[name-defined]
    """A Stripe event id already processed: the unique primary key makes redelivery a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(binary_string(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    source: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(db.Model):  # type: ignore[name-defined]
    """A merchant's ``Idempotency-Key`` and the response it produced (kept 24 hours).

    ``locked_until`` is set while a request holding the key is executing; ``response_status``
    and ``response_body`` are set once its outcome is final.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "livemode", "key", name="uq_idempotency_merchant_mode_key"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(binary_string(255))
    request_fingerprint: Mapped[str] = mapped_column(binary_string(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    response_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Idempotency keys are per mode: a test request never replays a live one's response.
    livemode: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())


class MerchantEvent(db.Model):  # type: ignore[name-defined]
    """A merchant-facing event (``evt_…``): a payment or refund outcome, written in the same
    transaction as the change itself (the transactional outbox). ``data`` is the payment or
    refund object exactly as the API returned it at that moment."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_merchant_created", "merchant_id", "created_at", "id"),
        sa.Index("ix_events_broker_due", "broker_published_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("evt"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    type: Mapped[str] = mapped_column(sa.String(40))
    payment_id: Mapped[str | None] = mapped_column(binary_string(32), index=True, nullable=True)
    refund_id: Mapped[str | None] = mapped_column(binary_string(32), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The values of ``data``'s members that this change replaced (Stripe's
    #: ``data.previous_attributes``); None when the event does not update an earlier state.
    previous_attributes: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    #: The API version (``app.merchant_events.API_VERSION``) ``data`` was rendered with.
    api_version: Mapped[str] = mapped_column(sa.String(16), server_default="2026-11-21")
    # Publication to the message broker (``EVENT_BROKER_URL``; app.notifications.publisher):
    # null until the broker confirmed it; a publisher claims the event with a lease as the
    # worker claims messages, and on failure leaves ``broker_locked_until`` as the next try.
    broker_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    broker_locked_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    broker_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The mode of the payment or refund; delivered only to endpoints of the same mode.
    livemode: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())


class WebhookEndpoint(db.Model):  # type: ignore[name-defined]
    """A merchant's webhook endpoint (``we_…``).

    The signing secret (``whsec_…``) is not stored: it is derived from ``SECRET_KEY``, the id
    and ``secret_version`` (``app.notifications.endpoints.derive_secret``), which rotation
    increments; ``previous_secret_version`` also signs until ``previous_secret_expires_at``.
    ``status`` is enabled, disabled (it answered 410, see ``disabled_reason``) or deleted;
    ``flagged_at`` is set when a message to it exhausted its retries.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (status_check("webhook_endpoints", ENDPOINT_STATUSES),)

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("we"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    enabled_events: Mapped[list[str]] = mapped_column(sa.JSON)
    description: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    secret_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    previous_secret_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="enabled")
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Receives only events of its mode (made with a key of that mode).
    livemode: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())


class Delivery(db.Model):  # type: ignore[name-defined]
    """One message: an event to one endpoint. Its id (``msg_…``) is the ``webhook-id`` header,
    the same on every attempt, so the merchant can deduplicate.

    ``status`` is pending, retrying, succeeded or failed. A worker claims a due message by
    setting ``locked_by`` and ``locked_until`` (its lease); a claim whose lease ran out is
    due again, so a crashed worker loses nothing.
    """

    __tablename__ = "event_deliveries"
    __table_args__ = (
        sa.Index("ix_event_deliveries_due", "status", "next_attempt_at"),
        status_check("event_deliveries", DELIVERY_STATUSES),
    )

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("msg"))
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("events.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_endpoints.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempt_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(binary_string(64), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Declared so that a flush inserts the event before its messages (the unit of work orders
    #: inserts by relationships, not by foreign keys alone).
    event: Mapped[MerchantEvent] = relationship()


class DeliveryAttempt(db.Model):  # type: ignore[name-defined]
    """One HTTP attempt of a message: when, the status code (None when no response came),
    latency in milliseconds, the first 1 KB of the response body, and the error if any."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[str] = mapped_column(sa.ForeignKey("event_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(sa.Integer)
    response_body: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    """A person who signs in to the merchant dashboard (``usr_…``), for exactly one merchant.

    ``role`` is ``admin`` (may act: refund, expire, manage webhooks and keys) or ``viewer``
    (read-only). ``email`` is stored lower-case and unique across merchants. Only an Argon2id
    hash of the password is stored. A user with ``disabled_at`` set can no longer sign in, and
    their open sessions end at the next request.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(binary_string(32), primary_key=True, default=lambda: new_id("usr"))
    merchant_id: Mapped[str] = mapped_column(binary_string(32), sa.ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    merchant: Mapped[Merchant] = relationship()

    @property
    def is_admin(self) -> bool:
        """Whether the user may act (refund, expire, manage webhook endpoints and API keys)."""
        return self.role == "admin"


# Dashboard lists (issue 13): filter by status, search by order id or customer email, newest first,
# per merchant. Declared here so the metadata matches migration 0004.
sa.Index(
    "ix_payments_merchant_status_created",
    Payment.merchant_id,
    Payment.status,
    Payment.created_at,
    Payment.id,
)
sa.Index("ix_payments_merchant_order", Payment.merchant_id, Payment.order_id)
# Covers the home page's 30-day figures (grouped by day, status, currency) of one mode: read from the
# index alone (livemode since migration 0011).
sa.Index(
    "ix_payments_merchant_figures",
    Payment.merchant_id,
    Payment.livemode,
    Payment.created_at,
    Payment.status,
    Payment.currency,
    Payment.amount_total,
)
sa.Index("ix_payments_merchant_email", Payment.merchant_id, Payment.customer_email)
sa.Index("ix_refunds_created", Refund.created_at, Refund.id)
