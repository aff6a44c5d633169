"""app.db.unit_of_work: one commit at the edge, nothing written on failure, no nesting; and
reset_after_error, with which the worker loop starts its next round."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError

from app.db import (
    NestedUnitOfWork,
    assert_no_transaction,
    reset_after_error,
    retry_on_lock_conflict,
    transaction_open,
    unit_of_work,
)
from app.extensions import db
from app.models import Merchant, new_id, utcnow
from tests.support.fake_stripe import FakeStripe


def _merchant(name: str, merchant_id: str | None = None) -> Merchant:
    return Merchant(
        id=merchant_id or new_id("mer"), name=name, allowed_domains=["shop.example"], created_at=utcnow()
    )


def _names() -> list[str]:
    names = sorted(db.session.scalars(sa.select(Merchant.name)).all())
    db.session.rollback()
    return names


def _count_commits() -> list[int]:
    commits: list[int] = []
    event.listen(db.session(), "after_commit", lambda _session: commits.append(1))
    return commits


def test_the_block_is_committed_once_and_no_transaction_is_left_open(domain: FakeStripe) -> None:
    commits = _count_commits()
    with unit_of_work() as session:
        session.add(_merchant("First"))
        db.session.flush()
        session.add(_merchant("Second"))
    assert len(commits) == 1
    assert not transaction_open()
    assert_no_transaction("a Stripe call after the unit of work")
    assert _names() == ["First", "Second"]


def test_an_exception_rolls_everything_back_and_propagates(domain: FakeStripe) -> None:
    with pytest.raises(LookupError), unit_of_work() as session:
        session.add(_merchant("Half done"))
        db.session.flush()  # written to the transaction, not yet committed
        raise LookupError("the second step failed")
    assert not transaction_open()
    assert _names() == []


def test_a_failing_commit_rolls_back_and_the_next_unit_works(domain: FakeStripe) -> None:
    taken = new_id("mer")
    with unit_of_work() as session:
        session.add(_merchant("Taken", taken))
    with pytest.raises(IntegrityError), unit_of_work() as session:
        session.add(_merchant("Also new"))
        session.add(_merchant("Duplicate", taken))
    with unit_of_work() as session:
        session.add(_merchant("After"))
    assert _names() == ["After", "Taken"]


def test_units_of_work_do_not_nest_and_the_outer_one_is_unharmed(domain: FakeStripe) -> None:
    with pytest.raises(NestedUnitOfWork), unit_of_work() as session:
        session.add(_merchant("Outer"))
        with unit_of_work():
            pytest.fail("an inner unit of work must not open")  # pragma: no cover
    assert _names() == []  # the outer unit saw the error and wrote nothing
    with unit_of_work() as session:  # and a new one opens once the first has ended
        session.add(_merchant("Next"))
    assert _names() == ["Next"]


def test_consecutive_units_commit_each_step_with_no_transaction_between(domain: FakeStripe) -> None:
    commits = _count_commits()
    with unit_of_work() as session:
        session.add(_merchant("Recorded"))
    assert_no_transaction("the Stripe call between the steps")  # raises if the first were still open
    with unit_of_work():
        db.session.execute(sa.update(Merchant).values(name="Updated"))
    assert len(commits) == 2
    assert _names() == ["Updated"]


def test_retry_on_lock_conflict_runs_a_fresh_unit_of_work(domain: FakeStripe) -> None:
    attempts: list[str] = []

    def work() -> None:
        with unit_of_work() as session:
            attempts.append("try")
            session.add(_merchant(f"Attempt {len(attempts)}"))
            db.session.flush()
            if len(attempts) == 1:
                raise OperationalError("UPDATE payments ...", {}, Exception("database is locked"))

    retry_on_lock_conflict(work)
    assert _names() == ["Attempt 2"]  # the first attempt's row was rolled back


@pytest.mark.parametrize("option", ["fresh", "read_committed"])
def test_a_fresh_unit_drops_what_the_session_held_before_it(domain: FakeStripe, option: str) -> None:
    db.session.add(_merchant("Left over from a failed step"))
    with unit_of_work(**{option: True}) as session:
        session.add(_merchant("Recorded"))
    assert _names() == ["Recorded"]


def test_a_plain_unit_includes_what_the_session_began_before_it(domain: FakeStripe) -> None:
    db.session.add(_merchant("Added by the view before its unit of work"))
    with unit_of_work() as session:
        session.add(_merchant("Recorded"))
    assert _names() == ["Added by the view before its unit of work", "Recorded"]


def test_a_dry_run_unit_writes_nothing_and_leaves_no_transaction_open(domain: FakeStripe) -> None:
    commits = _count_commits()
    with unit_of_work(dry_run=True) as session:
        session.add(_merchant("Only reported"))
        db.session.flush()
        assert _names_in_unit() == ["Only reported"]  # the block sees what it did
    assert commits == []
    assert not transaction_open()
    assert _names() == []


def _names_in_unit() -> list[str]:
    return sorted(db.session.scalars(sa.select(Merchant.name)).all())


def test_reset_after_error_drops_what_a_failed_round_left(domain: FakeStripe) -> None:
    db.session.add(_merchant("Left over from a failed round"))
    db.session.flush()
    reset_after_error()
    assert not transaction_open()
    with unit_of_work() as session:
        session.add(_merchant("Next round"))
    assert _names() == ["Next round"]


def test_reset_after_error_discards_a_session_it_cannot_roll_back(
    domain: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = db.session()
    failed.add(_merchant("Left over from a failed round"))
    failed.flush()

    def database_gone() -> None:
        raise OperationalError("ROLLBACK", {}, Exception("server has gone away"))

    monkeypatch.setattr(failed, "rollback", database_gone)
    reset_after_error()  # does not raise
    assert db.session() is not failed  # the next round starts on a new session (and connection)
