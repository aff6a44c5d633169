"""A SQLite in-memory app for unit tests of domain code: no sandbox, no server, no network.

``memory_app`` is built once per session; every test gets empty tables (made with ``create_all``:
the migrations are tested by the suite's database runs) and a fresh :class:`FakeStripe` in place of
the gateway.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app import create_app
from app.extensions import db
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


@pytest.fixture
def domain(memory_app: Flask) -> Iterator[FakeStripe]:
    """An app context on empty tables, with :class:`FakeStripe` as the gateway; yields the fake."""
    fake = FakeStripe()
    real = memory_app.extensions["stripe_gateway"]
    memory_app.extensions["stripe_gateway"] = fake
    with memory_app.app_context():
        try:
            yield fake
        finally:
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
            memory_app.extensions["stripe_gateway"] = real


@pytest.fixture
def merchant_id(domain: FakeStripe) -> str:
    """A merchant in the in-memory database (with :func:`domain` set up)."""
    return insert_merchant()
