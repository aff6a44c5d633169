"""Shared fixtures: the app on the test database, the Stripe sandbox and a live server.

Database: ``TEST_DATABASE_URL`` (``mysql+pymysql://root@127.0.0.1/checkout_test`` or
``postgresql+psycopg://postgres@127.0.0.1/checkout_test``; the suite drops and recreates that
database) or, by default, a SQLite file in a temporary directory. Either way the schema comes from
the migrations. Every test starts with empty tables.

The sandbox runs in a thread on a free port and is reached by the real ``stripe`` SDK over HTTP;
it delivers its signed webhooks to the app, which is also served over HTTP in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from app import create_app
from app.db import is_lock_conflict, unit_of_work
from app.extensions import db
from app.merchants import create_merchant
from tests.support.receiver import Receiver, serving_receiver
from tests.support.sandbox import SandboxHandle, start_sandbox
from tests.support.servers import ServerThread, free_port

WEBHOOK_SECRET = "whsec_test_secret_for_the_suite"


#: URL prefixes of the database servers the suite runs on (besides SQLite).
SERVER_DATABASES = ("mysql", "postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``server_db`` need a database server (MariaDB/MySQL or PostgreSQL: ``SELECT …
    FOR UPDATE SKIP LOCKED``, row locks held across processes): on SQLite they are deselected, not
    skipped; ``make test`` runs the suite on all three databases."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith(SERVER_DATABASES):
        return
    server_only = [item for item in items if item.get_closest_marker("server_db")]
    if server_only:
        config.hook.pytest_deselected(items=server_only)
        items[:] = [item for item in items if not item.get_closest_marker("server_db")]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def is_mysql(database_url: str) -> bool:
    return database_url.startswith("mysql")


@pytest.fixture(scope="session")
def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def recreate_database(database_url: str) -> None:
    """Drop and create the (server) database of ``database_url``, empty, through an admin
    connection: to the server itself on MySQL/MariaDB, to the ``postgres`` database on
    PostgreSQL (a database cannot be dropped while connected to it). SQLite: nothing to do."""
    url = sa.make_url(database_url)
    name = url.database
    if url.get_backend_name() == "mysql":
        admin = sa.create_engine(url.set(database=""))
        statements = [f"DROP DATABASE IF EXISTS `{name}`", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"]
    elif url.get_backend_name() == "postgresql":
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        # WITH (FORCE): a worker process left over from an interrupted run must not block the drop.
        statements = [
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0",
        ]
    else:
        return
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
            conn.commit()
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return {"app": free_port(), "sandbox": free_port()}


@pytest.fixture(scope="session")
def sandbox_server(ports: dict[str, int]) -> Iterator[SandboxHandle]:
    """The session's sandbox (:mod:`tests.support.sandbox`), sending its webhooks to the app."""
    handle = start_sandbox(
        ports["sandbox"],
        webhook_urls=[f"http://127.0.0.1:{ports['app']}/webhooks/stripe"],
        webhook_secret=WEBHOOK_SECRET,
        settle_delay=5.0,
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def app(database_url: str, ports: dict[str, int], sandbox_server: SandboxHandle) -> Iterator[Flask]:
    recreate_database(database_url)
    application = create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "STRIPE_API_BASE": sandbox_server.url,
            "STRIPE_SECRET_KEY": "sk_test_suite",
            "STRIPE_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['app']}",
            "TRANSACTION_GUARD": "raise",
        }
    )
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(app: Flask, ports: dict[str, int]) -> Iterator[str]:
    server = ServerThread(app, ports["app"])
    yield server.url
    server.stop()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    application: Flask = request.getfixturevalue("app")
    with application.app_context():
        db.session.remove()
        empty_tables(db.engine)


def empty_tables(engine: sa.Engine) -> None:
    """Delete every row of every table, children first.

    A late Stripe webhook from the test that just ended may still be writing. MariaDB's DELETE
    locks the ranges it empties, so such a write waits; PostgreSQL's locks only the rows it saw,
    so a timeline entry inserted between two DELETEs broke a foreign key, and the writer and the
    DELETEs deadlocked. There one TRUNCATE of all tables, parents first (the order in which the
    service locks), takes every table before emptying any; a deadlock is tried again.
    """
    tables = db.metadata.sorted_tables
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{table.name}"' for table in tables)))
                else:
                    for table in reversed(tables):
                        conn.execute(table.delete())
            return
        except sa.exc.OperationalError as exc:
            if attempt == 2 or not is_lock_conflict(exc):
                raise


@pytest.fixture
def sandbox_ctl(sandbox_server: SandboxHandle, live_server: str) -> Iterator[SandboxHandle]:
    """The sandbox, with the app's live server up to receive its webhooks.

    The sandbox clock only moves forward (``clock/advance``) and is shared by the session: each
    test starts and ends on real time, so that one test's advance cannot make Stripe refuse
    another's ``expires_at``. Webhooks are due on the sandbox clock, so what a test queued on an
    advanced clock is delivered before the clock goes back (else it would wait for real time to
    catch up, and every later flush would time out).
    """
    state = sandbox_server.state
    with state.lock:
        state.clock_offset = 0.0
    yield sandbox_server
    if state.clock_offset:
        state.webhooks.flush(timeout=5)
    with state.lock:
        state.clock_offset = 0.0


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class MerchantHandle:
    """A merchant made for a test, with its plaintext API key."""

    id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def make_merchant(app: Flask) -> Callable[..., MerchantHandle]:
    def make(
        name: str = "Acme Shop", domains: tuple[str, ...] = ("shop.example", "localhost")
    ) -> MerchantHandle:
        with app.app_context(), unit_of_work():
            merchant, key = create_merchant(name, list(domains))
            return MerchantHandle(id=merchant.id, api_key=key)

    return make


@pytest.fixture
def merchant(make_merchant: Callable[..., MerchantHandle]) -> MerchantHandle:
    return make_merchant()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (:mod:`tests.support.receiver`), stopped after the test."""
    with serving_receiver() as handle:
        yield handle
