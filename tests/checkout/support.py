"""Fixtures shared by the shopper-page tests (``tests/checkout``) and their browser tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.db import unit_of_work
from app.demo import DEMO_MERCHANT_NAME
from app.extensions import db, limiter
from app.merchants import create_merchant
from app.models import Merchant
from tests.conftest import WEBHOOK_SECRET, MerchantHandle
from tests.helpers import payment_body
from tests.support.sandbox import SandboxHandle
from tests.support.servers import ServerThread, free_port

SUPPORT_EMAIL = "help@acme.example"


@pytest.fixture
def shop(app: Flask) -> MerchantHandle:
    """ "Acme Shop" with a support email, sending shoppers back to 127.0.0.1."""
    with app.app_context(), unit_of_work():
        merchant, key = create_merchant("Acme Shop", ["127.0.0.1", "shop.example"], SUPPORT_EMAIL)
        return MerchantHandle(id=merchant.id, api_key=key)


@pytest.fixture
def create_payment(client: FlaskClient, live_server: str) -> Callable[..., dict[str, Any]]:
    """Create a payment through the API for ``merchant`` (the shop's URLs on our live server)."""

    def create(merchant: MerchantHandle, **overrides: Any) -> dict[str, Any]:
        body = payment_body(
            success_url=f"{live_server}/_merchant/thanks",
            cancel_url=f"{live_server}/_merchant/cart",
            **overrides,
        )
        response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    return create


@dataclass
class DemoShop:
    """The demo storefront served on its own port, on the test database and the test sandbox."""

    app: Flask
    url: str

    @property
    def merchant_id(self) -> str:
        with self.app.app_context():
            return db.session.query(Merchant).filter_by(name=DEMO_MERCHANT_NAME).one().id


@pytest.fixture
def demo_shop(
    app: Flask, database_url: str, sandbox_server: SandboxHandle, tmp_path: Any
) -> Iterator[DemoShop]:
    """A development app (demo storefront on) after ``flask demo setup``: its webhook receiver
    is registered for the demo merchant; its instance folder is in ``tmp_path``."""
    demo = create_app(
        {
            "APP_ENV": "development",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "STRIPE_API_BASE": sandbox_server.url,
            "STRIPE_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
            "WEBHOOK_ALLOW_PRIVATE_URLS": True,
            "WEBHOOK_RETRY_SCHEDULE": [0],
        }
    )
    demo.instance_path = str(tmp_path)
    server = ServerThread(demo, free_port())
    try:
        setup = demo.test_cli_runner().invoke(args=["demo", "setup", "--base-url", server.url])
        assert setup.exit_code == 0, setup.output
        yield DemoShop(app=demo, url=server.url)
    finally:
        server.stop()
        with demo.app_context():
            db.engine.dispose()


@pytest.fixture
def fresh_rate_limits() -> Iterator[None]:
    """Empty rate-limit counters before and after: shopper pages are limited per address, and
    every test's browser comes from 127.0.0.1."""
    limiter.reset()
    yield
    limiter.reset()


def payment_status(client: FlaskClient, merchant: MerchantHandle, payment_id: str) -> str:
    """The payment's status as the merchant API gives it."""
    response = client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers)
    return response.get_json()["status"]  # type: ignore[no-any-return]


def pay_by_bank_debit(sandbox: SandboxHandle, payment: dict[str, Any], account_number: str) -> None:
    """Pay ``payment`` with a sandbox test bank account (``000123456789`` settles,
    ``000222222227`` fails when the sandbox clock passes its settlement)."""
    sandbox.pay(
        payment["stripe_checkout_session_id"],
        payment_method="us_bank_account",
        routing_number="110000000",
        account_number=account_number,
    )
