"""The payment state machine: statuses and the transitions allowed between them.

```
pending ──▶ open ──▶ processing ──▶ succeeded ──▶ partially_refunded ──▶ refunded
   │          │            │             └──────────────────────────────▶ refunded
   ▼          ▼            ▼
 failed    expired       failed
```

Transitions only move forward, so a late or duplicated event can never move a payment back.
A payment may also jump ahead (``open`` → ``succeeded`` when the card settles at once,
``pending`` → ``succeeded`` when Stripe's word arrives before our own "open" commit).

Refunds. Once paid, the status follows ``amount_refunded`` (the sum of the *succeeded* refunds,
minor units): 0 → ``succeeded``, less than ``amount_total`` → ``partially_refunded``, all of it
→ ``refunded`` (:func:`status_for_refunded`). A succeeded refund only ever adds to it
(:data:`REFUND_SUCCEEDED_FROM`).

The one backwards move. Stripe may report a refund ``failed`` *after* it reported it
``succeeded`` (the refund could not reach the card: Stripe's "Failed refunds", test card
4000 0000 0000 5126, events ``refund.updated`` + ``refund.failed`` with ``failure_reason``).
The money is back with the merchant, so ``amount_refunded`` shrinks and the status follows it
down: ``refunded`` → ``partially_refunded`` / ``succeeded``, ``partially_refunded`` →
``succeeded``. That is :data:`REFUND_REVERSED_FROM`, used only by
:func:`app.payments.transitions.move_refunded` with ``reversal=True`` when a refund that had
succeeded fails. Nothing else moves a payment back: a paid payment never becomes ``open``,
``processing``, ``failed`` or ``expired`` again.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """A payment's status (the ``status`` member of the payment object)."""

    PENDING = "pending"
    OPEN = "open"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    EXPIRED = "expired"


S = PaymentStatus

#: For each target status, the statuses a payment may move to it from.
ALLOWED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.OPEN: frozenset({S.PENDING}),
    S.PROCESSING: frozenset({S.PENDING, S.OPEN}),
    S.SUCCEEDED: frozenset({S.PENDING, S.OPEN, S.PROCESSING}),
    S.PARTIALLY_REFUNDED: frozenset({S.SUCCEEDED}),
    S.REFUNDED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED}),
    S.FAILED: frozenset({S.PENDING, S.OPEN, S.PROCESSING}),
    S.EXPIRED: frozenset({S.PENDING, S.OPEN}),
}

#: Statuses in which the payment has been paid (refunds may be under way).
PAID = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})


#: Statuses a payment may be refunded in (``POST /payments/<id>/refunds``).
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})

#: Statuses in which the payment may still change without a refund (reconciliation looks at these).
UNSETTLED = frozenset({S.PENDING, S.OPEN, S.PROCESSING})

#: A refund succeeding: for each status it implies, the statuses the payment may be in before.
REFUND_SUCCEEDED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.PARTIALLY_REFUNDED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED}),
    S.REFUNDED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED}),
}

#: The one legitimate backwards move: a refund that had succeeded failed afterwards (see the
#: module docstring). For each status it implies, the statuses the payment may be in before.
REFUND_REVERSED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
}


class Source(StrEnum):
    """Where a change came from: the ``source`` of a timeline entry and of a processed Stripe event."""

    API = "api"  #: the merchant's API call
    REDIRECT = "redirect"  #: the shopper's browser (pay page, success page)
    WEBHOOK = "webhook"  #: a Stripe webhook
    RECONCILE = "reconcile"  #: reconciliation with Stripe (CLI or scheduled)
    WORKER = "worker"  #: the worker's own jobs (the expiry sweep)
    DASHBOARD = "dashboard"  #: a merchant's user in the dashboard


class RefundStatus(StrEnum):
    """A refund's status (the ``status`` member of the refund object).

    Stripe's refund statuses are ``pending``, ``requires_action``, ``succeeded``, ``failed`` and
    ``canceled`` (API reference, "The Refund object"); ``requires_action`` is ``pending`` here.
    """

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


R = RefundStatus

#: For each refund status, the statuses a refund may move to it from. ``succeeded`` →
#: ``failed`` is the late failure described in the module docstring; ``failed`` and
#: ``canceled`` are final.
REFUND_ALLOWED_FROM: dict[RefundStatus, frozenset[RefundStatus]] = {
    R.SUCCEEDED: frozenset({R.PENDING}),
    R.FAILED: frozenset({R.PENDING, R.SUCCEEDED}),
    R.CANCELED: frozenset({R.PENDING}),
}

#: Refund statuses that hold back part of the payment: no new refund may take it.
REFUND_RESERVING = frozenset({R.PENDING, R.SUCCEEDED})


def status_for_refunded(amount_total: int, amount_refunded: int) -> PaymentStatus:
    """The status of a paid payment of ``amount_total`` with ``amount_refunded`` (minor units)
    given back: ``succeeded`` (nothing), ``partially_refunded`` or ``refunded`` (all of it)."""
    if amount_refunded <= 0:
        return S.SUCCEEDED
    if amount_refunded < amount_total:
        return S.PARTIALLY_REFUNDED
    return S.REFUNDED


def refund_status_from_stripe(status: str | None) -> RefundStatus:
    """Our refund status for a Stripe refund ``status`` (``requires_action`` and unknown or
    missing values are ``pending``: the refund is not settled yet)."""
    try:
        return RefundStatus(status or R.PENDING)
    except ValueError:
        return R.PENDING
