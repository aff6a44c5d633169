"""Unit-of-work rules that the database alone cannot enforce.

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
from collections.abc import Callable
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

#: MySQL/MariaDB error codes of a lost lock conflict: deadlock, lock wait timeout.
_MYSQL_LOCK_ERRORS = frozenset({1213, 1205})
#: PostgreSQL SQLSTATEs of a lost lock conflict (Appendix A, "PostgreSQL Error Codes"):
#: deadlock_detected, lock_not_available (``lock_timeout``), serialization_failure.
_POSTGRESQL_LOCK_ERRORS = frozenset({"40P01", "55P03", "40001"})


class TransactionOpen(RuntimeError):
    """A network call was about to be made while a database transaction is open."""


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


def _is_sqlite() -> bool:
    return bool(db.session.get_bind().dialect.name == "sqlite")


def begin_read_committed() -> None:
    """Begin the session's transaction at READ COMMITTED on MySQL/MariaDB and PostgreSQL (the
    pooled connection gets its default back when released; SQLAlchemy, "Setting Isolation For
    Individual Transactions"). Call it first in a fresh unit of work, before any statement. On
    SQLite it does nothing: there, write transactions are serialised (``BEGIN IMMEDIATE``)."""
    if not _is_sqlite():
        db.session.connection(execution_options={"isolation_level": "READ COMMITTED"})


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
    """Run ``work`` (one short unit of work that starts fresh and commits) and, if it loses a
    lock conflict (:func:`is_lock_conflict`), roll back and run it once more.

    A second conflict propagates. ``work`` must be safe to repeat from its start: the database
    has rolled the first attempt back entirely.
    """
    try:
        return work()
    except OperationalError as exc:
        if not is_lock_conflict(exc):
            raise
        db.session.rollback()
        log.warning("lock conflict (%s); retrying the unit of work once", exc.orig)
    return work()
