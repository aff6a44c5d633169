"""Shared fixtures: the app on the test database, the Stripe sandbox and a live server.

Database: ``TEST_DATABASE_URL`` (e.g. ``mysql+pymysql://root@127.0.0.1/checkout_test``) or, by
default, a SQLite file in a temporary directory. Either way the schema comes from the migrations.
Every test starts with empty tables.

The sandbox runs in a thread on a free port and is reached by the real ``stripe`` SDK over HTTP;
it delivers its signed webhooks to the app, which is also served over HTTP in a thread.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.serving import BaseWSGIServer, make_server

import sandbox
from app import create_app
from app.extensions import db
from app.merchants import create_merchant

WEBHOOK_SECRET = "whsec_test_secret_for_the_suite"


def free_port() -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """A threaded WSGI server on 127.0.0.1 in a daemon thread; ``url`` is its base address."""

    def __init__(self, wsgi_app: Any, port: int) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``mysql`` need MySQL/MariaDB features (``SKIP LOCKED``): on SQLite they are
    deselected, not skipped; ``make test`` runs the suite on both databases."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith("mysql"):
        return
    mysql_only = [item for item in items if item.get_closest_marker("mysql")]
    if mysql_only:
        config.hook.pytest_deselected(items=mysql_only)
        items[:] = [item for item in items if not item.get_closest_marker("mysql")]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def is_mysql(database_url: str) -> bool:
    return database_url.startswith("mysql")


@dataclass
class Sandbox:
    """Test handle on the Stripe sandbox: its address and its control endpoints."""

    url: str
    wsgi: Any

    def control(self, path: str, **data: Any) -> dict[str, Any]:
        # A control call that waits server-side (``deliveries/flush`` with ``timeout``) must not
        # be cut short by our own read timeout.
        wait = float(data.get("timeout", 0))
        response = requests.post(f"{self.url}/_sandbox/{path}", data=data, timeout=10 + wait)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def pay(self, session_id: str, card_number: str = "4242424242424242", **extra: Any) -> dict[str, Any]:
        return self.control(f"checkout/sessions/{session_id}/pay", card_number=card_number, **extra)

    def advance(self, seconds: int) -> dict[str, Any]:
        return self.control("clock/advance", seconds=seconds)

    def webhooks(self, enabled: bool) -> None:
        self.control("webhooks/enable" if enabled else "webhooks/disable")


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return {"app": free_port(), "sandbox": free_port()}


@pytest.fixture(scope="session")
def sandbox_server(ports: dict[str, int]) -> Iterator[Sandbox]:
    url = f"http://127.0.0.1:{ports['sandbox']}"
    wsgi = sandbox.create_app(
        webhook_urls=[f"http://127.0.0.1:{ports['app']}/webhooks/stripe"],
        webhook_secret=WEBHOOK_SECRET,
        public_url=url,
        settle_delay=5.0,
    )
    server = ServerThread(wsgi, ports["sandbox"])
    yield Sandbox(url=url, wsgi=wsgi)
    server.stop()
    wsgi.sandbox_state.stop()


@pytest.fixture(scope="session")
def app(database_url: str, ports: dict[str, int], sandbox_server: Sandbox) -> Iterator[Flask]:
    if database_url.startswith("mysql"):
        admin = sa.create_engine(database_url.rsplit("/", 1)[0])
        name = database_url.rsplit("/", 1)[1].split("?")[0]
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        admin.dispose()
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
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def sandbox_ctl(sandbox_server: Sandbox, live_server: str) -> Iterator[Sandbox]:
    """The sandbox, with the app's live server up to receive its webhooks.

    The sandbox clock only moves forward (``clock/advance``) and is shared by the session: each
    test starts and ends on real time, so that one test's advance cannot make Stripe refuse
    another's ``expires_at``. Webhooks are due on the sandbox clock, so what a test queued on an
    advanced clock is delivered before the clock goes back (else it would wait for real time to
    catch up, and every later flush would time out).
    """
    state = sandbox_server.wsgi.sandbox_state
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
        with app.app_context():
            merchant, key = create_merchant(name, list(domains))
            return MerchantHandle(id=merchant.id, api_key=key)

    return make


@pytest.fixture
def merchant(make_merchant: Callable[..., MerchantHandle]) -> MerchantHandle:
    return make_merchant()
