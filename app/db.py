"""Unit-of-work rules that the database alone cannot enforce.

**One unit of work, committed once at the edge.** A view, a CLI command or a worker step writes
inside ``with unit_of_work():`` (:func:`unit_of_work`): it commits once when the block ends, and
rolls back (re-raising) when it raises. The functions below the edge add, change and flush rows,
and never commit: so what one request writes is all or nothing, and the commits can be counted by
reading the edges. A flow that must call the network between two writes (create a payment: record
it, ask Stripe, record the answer; deliver a notification: claim it, POST it, record the outcome)
is written as consecutive ``with unit_of_work():`` blocks with the call between them, where the
guard below checks that no transaction is left open. Units of work do not nest
(:class:`NestedUnitOfWork`): an inner function cannot commit its caller's half-done work.

**No network call inside an open transaction.** A transaction held across a call to Stripe (or a
merchant's endpoint) keeps its locks and its pooled connection for as long as the peer takes: on
SQLite, where every transaction begins ``IMMEDIATE``, one slow Stripe call then blocks every
other writer until ``busy_timeout`` answers "database is locked"; on MySQL/MariaDB the pool runs
dry. :func:`assert_no_transaction` is called before every such call (the Stripe gateway calls it
before each request). It looks at the current scoped session only: a transaction counts as open
from the moment a connection has begun one for the session (an attribute reload after
``commit()`` is enough) until it commits or rolls back. ``TRANSACTION_GUARD`` decides what a
violation does:

=========  =============================================================================
``raise``  raise :class:`TransactionOpen` (the test suite runs with this)
``log``    log an error with the stack, then go on (the default in production and
           development: a violation costs latency, not the request)
``off``    do nothing
=========  =============================================================================

**Settling money reads the latest rows.** :func:`begin_read_committed` starts a unit of work at
READ COMMITTED on MySQL/MariaDB and PostgreSQL: every read sees the latest commit and a locking
read takes no gap locks, so the units of work that settle refunds can read a payment's refunds
plainly under the payment's row lock, without the gap locks of REPEATABLE READ that made
concurrent refunds of neighbouring payments deadlock (1213). READ COMMITTED is PostgreSQL's
default already; it is asked for explicitly so that a server or role configured otherwise
(``default_transaction_isolation``) cannot change what these units of work read.

**Lock conflicts are retried once.** :func:`retry_on_lock_conflict` runs a unit of work again
after a deadlock (MySQL/MariaDB error 1213, PostgreSQL SQLSTATE 40P01), a lock wait timeout
(1205; PostgreSQL 55P03 when ``lock_timeout`` is set), a serialization failure (PostgreSQL
40001) or SQLite's "database is locked", instead of answering 500: the database already rolled
the loser back, so running the same short transaction again is safe.

**Claims skip locked rows.** :func:`skip_locked` adds ``FOR UPDATE SKIP LOCKED`` to a claim's
``SELECT`` on the servers that have it (MySQL 8, MariaDB 10.6+, PostgreSQL), so that concurrent
workers pass over each other's candidates; SQLite serialises writers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import Select, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from .extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``session.info`` key set while a connection-level transaction is open for the session.
_OPEN = "transaction_guard.open"

#: ``session.info`` key set while a :func:`unit_of_work` is open for the session.
_UNIT = "unit_of_work.open"

#: MySQL/MariaDB error codes of a lost lock conflict: deadlock, lock wait timeout.
_MYSQL_LOCK_ERRORS = frozenset({1213, 1205})
#: PostgreSQL SQLSTATEs of a lost lock conflict (Appendix A, "PostgreSQL Error Codes"):
#: deadlock_detected, lock_not_available (``lock_timeout``), serialization_failure.
_POSTGRESQL_LOCK_ERRORS = frozenset({"40P01", "55P03", "40001"})


class TransactionOpen(RuntimeError):
    """A network call was about to be made while a database transaction is open."""


class NestedUnitOfWork(RuntimeError):
    """A unit of work was opened while another one is open in the same session."""


def _on_begin(session: Session, _transaction: SessionTransaction, _connection: Any) -> None:
    session.info[_OPEN] = True


def _on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its connection is released
        session.info.pop(_OPEN, None)


def install_transaction_guard(session: scoped_session[Any]) -> None:
    """Track, for every session of ``session`` (the app's ``db.session``), whether a database
    transaction is open. Idempotent (``create_app`` may run several times in one process)."""
    if not event.contains(session, "after_begin", _on_begin):
        event.listen(session, "after_begin", _on_begin)
        event.listen(session, "after_transaction_end", _on_end)


def transaction_open() -> bool:
    """Whether the current scoped session has a database transaction open."""
    return bool(db.session().info.get(_OPEN))


def assert_no_transaction(what: str = "a network call") -> None:
    """Refuse ``what`` (a Stripe request, a webhook delivery) while a transaction is open.

    Behaviour follows ``TRANSACTION_GUARD`` (see the module docstring): raises
    :class:`TransactionOpen`, logs, or does nothing. Outside an application context it does
    nothing.
    """
    if not has_app_context():
        return
    mode = current_app.config.get("TRANSACTION_GUARD", "log")
    if mode == "off" or not transaction_open():
        return
    message = f"{what} while a database transaction is open: commit or roll back first"
    if mode == "raise":
        raise TransactionOpen(message)
    log.error(message, stack_info=True)


@contextmanager
def unit_of_work(
    *, fresh: bool = False, read_committed: bool = False, dry_run: bool = False
) -> Iterator[Session]:
    """One unit of work on the current scoped session (``db.session``), committed once.

    Yields the session. When the block ends normally the session commits (what it flushed and
    what it still holds); when the block raises, including when the commit itself fails (a
    unique key, a lost lock), it rolls back and the exception propagates, so nothing of the
    block is written. Reads made before the block, in the transaction the session had already
    begun (a view's lookup of the merchant), belong to the unit.

    ``fresh=True`` first rolls back whatever the session had begun (a read, or what a failed
    step left), so the unit starts from the latest commit. ``read_committed=True`` starts
    afresh too, at READ COMMITTED (:func:`begin_read_committed`), for the units of work that
    settle money. ``dry_run=True`` rolls back where the block would commit: what it did is
    read (a reconciliation's report), never written.

    Raises :class:`NestedUnitOfWork` if a unit of work is already open in this session: a unit
    of work is opened by the edge (a view, a CLI command, a worker step), and the functions it
    calls never open their own. It composes with :func:`retry_on_lock_conflict` the other way
    round: the retried function opens the unit of work, so a retry begins a fresh one::

        def settle() -> None:
            with unit_of_work(read_committed=True):
                ...  # lock the payment, settle its refund

        retry_on_lock_conflict(settle)
    """
    session = db.session()
    if session.info.get(_UNIT):
        raise NestedUnitOfWork("a unit of work is already open: the edge that opened it commits")
    session.info[_UNIT] = True
    try:
        if fresh or read_committed:
            session.rollback()
        if read_committed:
            begin_read_committed()
        yield session
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_UNIT, None)


def _is_sqlite() -> bool:
    return bool(db.session.get_bind().dialect.name == "sqlite")


def begin_read_committed() -> None:
    """Begin the session's transaction at READ COMMITTED on MySQL/MariaDB and PostgreSQL (the
    pooled connection gets its default back when released; SQLAlchemy, "Setting Isolation For
    Individual Transactions"). Call it first in a fresh unit of work, before any statement. On
    SQLite it does nothing: there, write transactions are serialised (``BEGIN IMMEDIATE``)."""
    if not _is_sqlite():
        db.session.connection(execution_options={"isolation_level": "READ COMMITTED"})


def read_back(row: Any) -> None:
    """Reload ``row`` (a mapped object) from the database as last committed, after a conditional
    ``UPDATE`` (a compare-and-set) that may have changed nothing because another transaction got
    there first.

    A locking read (``FOR UPDATE``): a plain one would not do on MariaDB, where REPEATABLE READ
    answers from the snapshot the transaction took at its first read, so the loser of a race
    (the success page and the webhook applying the same paid session) would see the row as it
    was before the winner committed, and show a paid payment as open. A locking read sees the
    latest commit (MariaDB, "Locking Reads"); PostgreSQL at READ COMMITTED reads it either way,
    and SQLite has one writer at a time. The ``UPDATE`` before it has already locked the row, so
    this waits for nothing new."""
    db.session.refresh(row, with_for_update=True)


S = TypeVar("S", bound=Select[Any])


def skip_locked(query: S) -> S:
    """``query`` (a claim's ``SELECT`` of candidate rows) with ``FOR UPDATE SKIP LOCKED`` on
    MySQL 8, MariaDB 10.6+ and PostgreSQL, so that concurrent claimers skip each other's rows;
    unchanged on SQLite, which has no row locks (its writers are serialised, and a claim's
    conditional ``UPDATE`` settles the race)."""
    return query if _is_sqlite() else query.with_for_update(skip_locked=True)


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost lock conflict: MySQL/MariaDB 1213 (deadlock) or 1205 (lock
    wait timeout); PostgreSQL 40P01 (deadlock), 55P03 (lock timeout) or 40001 (serialization
    failure); or SQLite's "database is locked"."""
    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _POSTGRESQL_LOCK_ERRORS:
        return True
    args = getattr(exc.orig, "args", ())
    if args and args[0] in _MYSQL_LOCK_ERRORS:
        return True
    return "database is locked" in str(exc.orig)


def retry_on_lock_conflict(work: Callable[[], T]) -> T:
    """Run ``work`` (a function that opens one short :func:`unit_of_work` and commits) and, if it
    loses a lock conflict (:func:`is_lock_conflict`), run it once more.

    A second conflict propagates. ``work`` must be safe to repeat from its start: its unit of
    work has rolled the first attempt back entirely.
    """
    try:
        return work()
    except OperationalError as exc:
        if not is_lock_conflict(exc):
            raise
        log.warning("lock conflict (%s); retrying the unit of work once", exc.orig)
    return work()


def reset_after_error() -> None:
    """Roll back whatever the current scoped session still holds after an error that a long-running
    loop (the notification worker) survives, so its next round starts from the latest commit.

    With the database gone the rollback may fail too; the session is then discarded (logged as
    a warning), and its next use starts a new one that reconnects. Never raises.
    """
    try:
        db.session.rollback()
    except Exception:
        log.warning("rollback failed; discarding the session", exc_info=True)
        db.session.remove()
