"""Moving a payment between statuses, with its timeline entry, settled in the database.

Every move is a compare-and-set ``UPDATE … WHERE id = ? AND status IN (allowed sources)``, so of
two concurrent callers (success page and webhook, two webhook deliveries, a worker) exactly one
wins and the other is a no-op. Nothing here commits: the caller's unit of work does, once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from ..db import read_back
from ..extensions import db
from ..merchant_events import EVENT_TYPES, emit
from ..models import Payment, Refund, TimelineEntry, utcnow
from .actor import acting_user
from .decisions import Outcome, decide_refunded, move_outcome
from .serializers import payment_to_dict, refund_to_dict
from .states import ALLOWED_FROM, PaymentStatus, Source


class MoveOutcome(StrEnum):
    """What :func:`move` did.

    ``moved``: the row changed (and the timeline entry was added). The others changed nothing:
    ``already_there`` (the payment already is in the target status: a duplicate),
    ``would_go_backwards`` (the state machine does not allow the move from the status the caller
    saw: a stale or late report), ``lost_race`` (the caller saw a status the move was allowed
    from, but another writer changed the row first).
    """

    MOVED = "moved"
    ALREADY_THERE = "already_there"
    WOULD_GO_BACKWARDS = "would_go_backwards"
    LOST_RACE = "lost_race"


def lock_payment(payment_id: str) -> Payment:
    """Load ``payment_id`` with its row locked (``FOR UPDATE``) for the open transaction.

    The one lock order of this service: a unit of work that changes a payment or its refunds
    locks the payment row *first*, by primary key (a record lock only, no gap lock), so two
    of them can only queue, never deadlock on each other. Call it at the *start* of a fresh
    transaction, before any other read: on MariaDB (REPEATABLE READ) later plain reads then
    see everything committed before the lock was granted. (SQLite serialises write
    transactions with ``BEGIN IMMEDIATE``.)

    The object is then known current for the rest of the transaction, so :func:`move` updates
    it from the columns it writes instead of reading the row back.
    """
    payment = db.session.execute(
        sa.select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    db.session.info[_LOCKED] = (db.session().get_transaction(), payment_id)
    return payment


#: ``db.session.info`` key: ``(transaction, payment id)`` of the last :func:`lock_payment`.
_LOCKED = "locked_payment"


def _holds_lock(payment: Payment) -> bool:
    """Whether the open transaction loaded ``payment`` with :func:`lock_payment`: its row cannot
    have changed since, other than by this session's own statements."""
    transaction, payment_id = db.session.info.get(_LOCKED, (None, None))
    return (
        payment_id == payment.id and transaction is not None and transaction is db.session().get_transaction()
    )


def record(
    payment: Payment,
    event_type: str,
    *,
    source: str,
    stripe_event_id: str | None = None,
    stripe_object_id: str | None = None,
    refund: Refund | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Add a timeline entry (``payment.*`` / ``refund.*`` ``event_type``) to the open unit of work.

    The timeline only: the merchant is told by :func:`notify_merchant`, called where the state
    changes. An entry from the dashboard names the user who acted (``data["user_id"]``,
    :mod:`app.payments.actor`)."""
    if source == Source.DASHBOARD and (user_id := acting_user.get()) is not None:
        data = {**(data or {}), "user_id": user_id}
    entry = TimelineEntry(
        payment_id=payment.id,
        refund_id=refund.id if refund is not None else None,
        type=event_type,
        source=source,
        stripe_event_id=stripe_event_id,
        stripe_object_id=stripe_object_id,
        data=data or {},
        created_at=utcnow(),
    )
    db.session.add(entry)
    return entry


def notify_merchant(
    event_type: str,
    payment: Payment,
    refund: Refund | None = None,
    *,
    previous: dict[str, Any] | None = None,
) -> None:
    """Tell the merchant of a change, in the open unit of work (the transactional outbox,
    :mod:`app.merchant_events`): a ``payment.*`` event carries the payment object, a
    ``refund.*`` event the refund object, as the API returns them; ``previous`` is that object
    as it was before the change (its changed members become ``previous_attributes``). Types
    merchants are not told of (``payment.open``, ``payment.refunded``, …) are skipped. Raises
    ``ValueError`` for a ``refund.*`` type without ``refund``."""
    if event_type not in EVENT_TYPES:
        return
    if event_type.startswith("refund."):
        if refund is None:
            raise ValueError(f"{event_type} needs the refund")
        emit(event_type, payment, refund, refund_to_dict(refund), previous=previous)
    else:
        emit(event_type, payment, refund, payment_to_dict(payment), previous=previous)


def move(
    payment: Payment,
    target: PaymentStatus,
    *,
    source: str,
    stripe_event_id: str | None = None,
    stripe_object_id: str | None = None,
    values: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> MoveOutcome:
    """Move ``payment`` to ``target`` if the state machine allows it from its *current* row.

    ``values`` are further columns set in the same UPDATE. The object is brought up to date
    either way: from the written values when the caller holds the row lock (:func:`lock_payment`)
    and the row changed, else by reading the row back.
    Returns :attr:`MoveOutcome.MOVED` when the row changed (a ``payment.<target>`` timeline entry
    is then added); any other :class:`MoveOutcome` says why nothing changed.
    """
    seen = payment.status
    before = payment_to_dict(payment)  # for the event's previous_attributes
    changes: dict[str, Any] = {"status": target.value, "updated_at": utcnow(), **(values or {})}
    if target in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        changes["live_order_id"] = None
    if not _compare_and_set(payment, ALLOWED_FROM[target], changes):
        return _why_not_moved(seen, payment.status, target)
    record(
        payment,
        f"payment.{target.value}",
        source=source,
        stripe_event_id=stripe_event_id,
        stripe_object_id=stripe_object_id,
        data=data,
    )
    # payment.succeeded is the merchant's fulfilment trigger.
    notify_merchant(f"payment.{target.value}", payment, previous=before)
    return MoveOutcome.MOVED


def _why_not_moved(seen: str, current: str, target: PaymentStatus) -> MoveOutcome:
    if current == target:
        return MoveOutcome.ALREADY_THERE
    if move_outcome(seen, target) is Outcome.MOVE:
        return MoveOutcome.LOST_RACE
    return MoveOutcome.WOULD_GO_BACKWARDS


def move_refunded(payment: Payment, amount_refunded: int, *, reversal: bool) -> bool:
    """Set a paid payment's ``amount_refunded`` (minor units) and the status it implies.

    ``reversal`` is False when a refund succeeded (the total grew: ``REFUND_SUCCEEDED_FROM``)
    and True when a refund that had succeeded failed later (the total shrank: the one backwards
    move, ``REFUND_REVERSED_FROM``; see :mod:`app.payments.states`). Compare-and-set like
    :func:`move`. No ``payment.*`` timeline entry is written: the caller records the
    ``refund.succeeded`` / ``refund.failed`` entry that caused the change, after this call, so
    that the entry (and the merchant's notification) sees the new totals. Returns True if the
    row changed; the caller should hold the payment's row lock.
    """
    decision = decide_refunded(payment.status, payment.amount_total, amount_refunded, reversal=reversal)
    if decision.target is None:
        read_back(payment)
        return False
    changes = {"status": decision.target.value, "amount_refunded": amount_refunded, "updated_at": utcnow()}
    return _compare_and_set(payment, decision.allowed_from, changes)


def _compare_and_set(payment: Payment, allowed: frozenset[PaymentStatus], changes: dict[str, Any]) -> bool:
    """``UPDATE`` the payment's row with ``changes`` if its status is one of ``allowed``; True if
    the row changed. Afterwards the object shows the row: set from ``changes`` when it changed
    under this transaction's row lock (:func:`lock_payment`: nothing else can have changed it),
    else read back (:func:`~app.db.read_back`)."""
    result = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(allowed))
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    changed: bool = result.rowcount == 1  # type: ignore[attr-defined]
    if changed and _holds_lock(payment):
        for key, value in changes.items():
            set_committed_value(payment, key, value)
    else:
        read_back(payment)
    return changed
