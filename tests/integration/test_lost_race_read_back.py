"""A move that loses the race shows the winner's row, also on MariaDB's REPEATABLE READ.

The success page and the ``checkout.session.completed`` webhook apply the same paid session
at once. The one that loses the compare-and-set read the payment before the winner committed;
a plain read-back would answer from that older snapshot (``open``) and the shopper's receipt
said "Payment not completed" for a paid payment (a browser test caught it on MariaDB).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import unit_of_work
from app.extensions import db
from app.models import Payment
from app.payments.states import PaymentStatus
from app.payments.transitions import MoveOutcome, move
from tests.support.factories import insert_merchant, insert_payment

pytestmark = pytest.mark.server_db


def _pay_elsewhere(payment_id: str) -> None:
    """The winner: another connection moves the payment to succeeded and commits."""
    with db.engine.connect() as other:
        other.execute(sa.update(Payment).where(Payment.id == payment_id).values(status="succeeded"))
        other.commit()


def test_the_loser_of_a_move_sees_the_winners_status(app):
    with app.app_context():
        payment_id = insert_payment(insert_merchant(), status="open")
        with unit_of_work(fresh=True):
            payment = db.session.get(Payment, payment_id)  # the loser's read, before the winner
            assert payment.status == "open"
            _pay_elsewhere(payment_id)
            outcome = move(payment, PaymentStatus.SUCCEEDED, source="redirect")
            assert outcome is MoveOutcome.ALREADY_THERE
            assert payment.status == "succeeded"
