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
READ COMMITTED on MySQL/MariaDB: every read sees the latest commit and a locking read takes no
gap locks, so the units of work that settle refunds can read a payment's refunds plainly under
the payment's row lock, without the gap locks of REPEATABLE READ that made concurrent refunds of
neighbouring payments deadlock (1213).

**Lock conflicts are retried once.** :func:`retry_on_lock_conflict` runs a unit of work again
after a deadlock (MySQL/MariaDB error 1213), a lock wait timeout (1205) or SQLite's "database is
locked", instead of answering 500: the database already rolled the loser back, so running the
same short transaction again is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from .extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``session.info`` key set while a connection-level transaction is open for the session.
_OPEN = "transaction_guard.open"

#: MySQL/MariaDB error codes of a lost lock conflict: deadlock, lock wait timeout.
_MYSQL_LOCK_ERRORS = frozenset({1213, 1205})


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


def begin_read_committed() -> None:
    """Begin the session's transaction at READ COMMITTED on MySQL/MariaDB (the pooled connection
    gets its default back when released; SQLAlchemy, "Setting Isolation For Individual
    Transactions"). Call it first in a fresh unit of work, before any statement. On SQLite it
    does nothing: there, write transactions are serialised (``BEGIN IMMEDIATE``)."""
    if db.session.get_bind().dialect.name == "mysql":
        db.session.connection(execution_options={"isolation_level": "READ COMMITTED"})


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost lock conflict: MySQL/MariaDB 1213 (deadlock) or 1205 (lock
    wait timeout), or SQLite's "database is locked"."""
    if not isinstance(exc, OperationalError):
        return False
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
