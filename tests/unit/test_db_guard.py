"""app.db: the guard against network calls inside a transaction, and the lock-conflict retry."""

from __future__ import annotations

import logging
import sqlite3

import psycopg.errors
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app.db import TransactionOpen, assert_no_transaction, is_lock_conflict, retry_on_lock_conflict
from app.extensions import db
from app.models import Merchant
from app.stripe_gateway import stripe_gateways


def test_guard_raises_while_a_transaction_is_open_and_not_after_commit(app):
    with app.app_context():
        db.session.execute(sa.select(1))
        with pytest.raises(TransactionOpen):
            assert_no_transaction()
        db.session.commit()
        assert_no_transaction()


def test_an_attribute_reload_after_rollback_opens_a_transaction(app, merchant):
    with app.app_context():
        row = db.session.get(Merchant, merchant.id)
        db.session.rollback()  # a commit no longer expires objects (expire_on_commit=False); this does
        assert_no_transaction()
        assert row.name  # expired by the rollback: reloading it begins a new transaction
        with pytest.raises(TransactionOpen):
            assert_no_transaction()
        db.session.rollback()


def test_the_gateway_refuses_to_call_stripe_inside_a_transaction(app, sandbox_ctl):
    with app.app_context():
        db.session.execute(sa.select(1))
        with pytest.raises(TransactionOpen):
            stripe_gateways().live.retrieve_refund("re_anything")
        db.session.rollback()


def test_log_mode_logs_and_goes_on(app, caplog, monkeypatch):
    monkeypatch.setitem(app.config, "TRANSACTION_GUARD", "log")
    # Alembic's fileConfig (the migrations ran in this process) disables loggers that existed.
    monkeypatch.setattr(logging.getLogger("app.db"), "disabled", False)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="app.db"):
        db.session.execute(sa.select(1))
        assert_no_transaction("a Stripe request")
        db.session.rollback()
    assert "a Stripe request while a database transaction is open" in caplog.text


def _conflict(orig: Exception) -> OperationalError:
    return OperationalError("UPDATE payments ...", {}, orig)


@pytest.mark.parametrize(
    "orig",
    [
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
        pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.SerializationFailure("could not serialize access due to concurrent update"),
        sqlite3.OperationalError("database is locked"),
    ],
)
def test_a_lost_lock_conflict_is_retried_once(app, orig):
    calls = []

    def work() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise _conflict(orig)
        return "done"

    with app.app_context():
        assert retry_on_lock_conflict(work) == "done"
    assert len(calls) == 2 and is_lock_conflict(_conflict(orig))


def test_a_second_conflict_or_another_error_propagates(app):
    def deadlock() -> None:
        raise _conflict(pymysql.err.OperationalError(1213, "Deadlock"))

    def gone() -> None:
        raise _conflict(pymysql.err.OperationalError(2013, "Lost connection"))

    def admin_shutdown() -> None:
        raise _conflict(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))

    with app.app_context():
        with pytest.raises(OperationalError):
            retry_on_lock_conflict(deadlock)
        for other in (gone, admin_shutdown):
            calls = []
            with pytest.raises(OperationalError):
                retry_on_lock_conflict(lambda: calls.append(1) or other())  # noqa: B023
            assert len(calls) == 1
