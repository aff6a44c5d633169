"""Lost lock conflicts as the database server reports them are recognised (and so retried once,
app.db.retry_on_lock_conflict): a real deadlock and a real lock wait timeout, on MariaDB and on
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app.db import is_lock_conflict
from app.extensions import db
from app.models import utcnow
from app.scheduler import JobLease

pytestmark = pytest.mark.server_db


@pytest.fixture
def engine(app) -> Iterator[sa.Engine]:
    """The app's engine, with two job rows to fight over."""
    with app.app_context():
        db.session.add_all(
            [JobLease(name="a", next_run_at=utcnow()), JobLease(name="b", next_run_at=utcnow())]
        )
        db.session.commit()
        yield db.engine


def _touch(conn: sa.Connection, name: str) -> None:
    conn.execute(sa.update(JobLease).where(JobLease.name == name).values(last_detail="touched"))


def test_a_deadlock_is_a_lock_conflict(engine):
    both_hold_one = threading.Barrier(2, timeout=10)
    errors: list[OperationalError] = []

    def lock_in_order(first: str, second: str) -> None:
        with engine.connect() as conn:
            _touch(conn, first)
            both_hold_one.wait()
            try:
                _touch(conn, second)
            except OperationalError as exc:
                errors.append(exc)
            conn.rollback()

    threads = [threading.Thread(target=lock_in_order, args=order) for order in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    (deadlock,) = errors  # the server chose one victim; the other transaction went on
    assert is_lock_conflict(deadlock), deadlock.orig


def test_a_lock_wait_timeout_is_a_lock_conflict(engine):
    set_timeout = {
        "mysql": "SET SESSION innodb_lock_wait_timeout = 1",
        "postgresql": "SET lock_timeout = '1s'",
    }[engine.dialect.name]
    with engine.connect() as holder, engine.connect() as waiter:
        _touch(holder, "a")
        waiter.execute(sa.text(set_timeout))
        waiter.commit()
        with pytest.raises(OperationalError) as timed_out:
            _touch(waiter, "a")
        waiter.rollback()
        holder.rollback()
    assert is_lock_conflict(timed_out.value), timed_out.value.orig
