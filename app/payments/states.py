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

#: Statuses in which the order still has a live payment (it may yet be, or has been, paid).
LIVE = frozenset({S.PENDING, S.OPEN, S.PROCESSING, S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})

#: Statuses in which the payment has been paid (refunds may be under way).
PAID = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})


def can_move(current: str, target: PaymentStatus) -> bool:
    """Whether a payment in status ``current`` may move to ``target``."""
    return current in ALLOWED_FROM[target]
