"""A SQLite in-memory app for unit tests of domain code: no sandbox, no server, no network.

``memory_app`` is built once per session, its tables made with ``create_all`` (the migrations are
tested by the suite's database runs). Every test works inside one transaction that is rolled back
afterwards (:func:`rolled_back`), so it starts on empty tables, and gets a fresh
:class:`FakeStripe` in place of the gateway (:func:`gateway`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask

from app import create_app
from app.extensions import db
from app.stripe_gateway import StripeGateways
from tests.support.factories import insert_merchant
from tests.support.fake_stripe import FakeStripe


@pytest.fixture(scope="session")
def memory_app() -> Flask:
    app = create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "unit-test-secret",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "STRIPE_API_BASE": "http://127.0.0.1:9",  # never called: the fake gateway answers
            "STRIPE_SECRET_KEY": "sk_test_unit",
            "STRIPE_WEBHOOK_SECRETS": ["whsec_unit"],
            "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
            "TRANSACTION_GUARD": "raise",
        }
    )
    with app.app_context():
        db.create_all()
        db.session.commit()
    return app


@contextmanager
def rolled_back() -> Iterator[None]:
    """Within the block, ``db.session`` works inside one outer transaction that is rolled back at
    the end: the code under test commits as usual (each ``commit()`` releases a SAVEPOINT;
    SQLAlchemy, "Joining a Session into an External Transaction"), and nothing it wrote
    outlives the block. The transaction guard still sees the session's own transactions, so a
    Stripe call made inside one still raises. Needs an app context."""
    connection = db.engine.connect()
    outer = connection.begin()
    session = db.session.session_factory(bind=connection, join_transaction_mode="create_savepoint")
    # Flask-SQLAlchemy's Session.get_bind picks the app's engine, not ``bind``: keep it on ours.
    session.get_bind = lambda *args, **kwargs: connection  # type: ignore[method-assign]
    db.session.registry.set(session)
    try:
        yield
    finally:
        db.session.remove()
        outer.rollback()
        connection.close()


@contextmanager
def gateway(app: Flask, fake: FakeStripe) -> Iterator[FakeStripe]:
    """Within the block, ``fake`` is the app's Stripe gateway for both modes (what
    :func:`app.stripe_gateway.stripe_gateways` returns): the one place the unit tests give domain
    code its gateway."""
    real = app.extensions["stripe_gateways"]
    app.extensions["stripe_gateways"] = StripeGateways(fake)  # type: ignore[arg-type]
    try:
        yield fake
    finally:
        app.extensions["stripe_gateways"] = real


@pytest.fixture
def domain(memory_app: Flask) -> Iterator[FakeStripe]:
    """An app context on empty tables (rolled back after the test), with :class:`FakeStripe` as
    the gateway; yields the fake."""
    with memory_app.app_context(), gateway(memory_app, FakeStripe()) as fake, rolled_back():
        yield fake


@pytest.fixture
def merchant_id(domain: FakeStripe) -> str:
    """A merchant in the in-memory database (with :func:`domain` set up)."""
    return insert_merchant()
