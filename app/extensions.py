"""Flask extensions, created unbound and registered in ``create_app`` with ``init_app``."""

from typing import Any

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, event
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for the typed (``Mapped[...]``) models."""


#: ``expire_on_commit=False``: a commit does not expire the session's objects, so reading one after
#: a commit costs no reload (10 → 6 SQL statements per create, measured by ``make bench``). Nothing
#: relies on that reload for fresh data: every unit of work that must see other writers' changes
#: starts with ``rollback()`` (which still expires everything), locks rows with ``populate_existing``
#: (``app.payments.transitions.lock_payment``) or refreshes after its compare-and-set UPDATE.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
#: Rate limits; keyed by client address (``request.remote_addr``) unless a limit says otherwise.
#: Settings: ``RATELIMIT_*`` in :mod:`app.config`; the limits themselves: :mod:`app.rate_limits`.
limiter = Limiter(key_func=get_remote_address)


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite (the embedded default) safe for a threaded server.

    pysqlite's deferred transactions can fail at once with "database is locked" when two
    connections that have read both try to write. Following SQLAlchemy's documented recipe
    ("Serializable isolation / Savepoints / Transactional DDL" for pysqlite), every transaction
    starts with ``BEGIN IMMEDIATE``, so writers queue on ``busy_timeout`` instead; WAL lets
    readers proceed meanwhile.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
