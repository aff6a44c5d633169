"""move() says what it did: moved, already_there, would_go_backwards or lost_race.

The forward moves are written out from the picture in app/payments/states.py, not computed from
its tables.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Payment
from app.payments.states import PaymentStatus
from app.payments.transitions import MoveOutcome, move
from tests.support.factories import insert_merchant, insert_payment, timeline_types

FORWARD = {
    ("pending", "open"),
    ("pending", "processing"),
    ("open", "processing"),
    ("pending", "succeeded"),
    ("open", "succeeded"),
    ("processing", "succeeded"),
    ("succeeded", "partially_refunded"),
    ("succeeded", "refunded"),
    ("partially_refunded", "refunded"),
    ("pending", "failed"),
    ("open", "failed"),
    ("processing", "failed"),
    ("pending", "expired"),
    ("open", "expired"),
}


@pytest.mark.parametrize("target", [s for s in PaymentStatus if s != PaymentStatus.PENDING])
@pytest.mark.parametrize("start", [s.value for s in PaymentStatus])
def test_move_reports_its_outcome_and_writes_a_timeline_entry_only_when_it_moved(domain, start, target):
    payment_id = insert_payment(insert_merchant(), status=start)
    payment = db.session.get_one(Payment, payment_id)

    outcome = move(payment, target, source="worker")
    db.session.commit()

    if (start, target.value) in FORWARD:
        expected = MoveOutcome.MOVED
    elif start == target.value:
        expected = MoveOutcome.ALREADY_THERE
    else:
        expected = MoveOutcome.WOULD_GO_BACKWARDS
    assert outcome is expected
    assert payment.status == (target.value if expected is MoveOutcome.MOVED else start)
    entries = timeline_types(payment_id)
    assert entries == ([f"payment.{target.value}"] if expected is MoveOutcome.MOVED else [])


def test_move_reports_a_lost_race_when_another_writer_changed_the_row_first(domain):
    payment_id = insert_payment(insert_merchant(), status="open")
    payment = db.session.get_one(Payment, payment_id)
    assert payment.status == "open"
    # Another writer (the webhook) settles the payment after we read it.
    db.session.execute(
        sa.update(Payment).where(Payment.id == payment_id).values(status="succeeded"),
        execution_options={"synchronize_session": False},
    )

    assert move(payment, PaymentStatus.EXPIRED, source="worker") is MoveOutcome.LOST_RACE
    assert payment.status == "succeeded"
