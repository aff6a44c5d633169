"""Fixtures for the payment paths of issue 3: a ``shop`` that drives the API, the sandbox and the
database, and a ``stripe_client`` (the real SDK) on the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import ProcessedStripeEvent
from app.payments.stripe_events import handle_event
from app.stripe_gateway import stripe_gateways
from tests.helpers import payment_body, wait_for
from tests.support.factories import timeline_types


@pytest.fixture
def stripe_client(sandbox_ctl: Any) -> stripe.StripeClient:
    """The official SDK pointed at the sandbox (what the Dashboard or another system would do)."""
    return stripe.StripeClient("sk_test_suite", base_addresses={"api": sandbox_ctl.url})


@dataclass
class Shop:
    """Test driver: a merchant's API calls, the shopper's payments, and what the database says."""

    app: Flask
    client: FlaskClient
    merchant: Any
    sandbox: Any
    stripe: stripe.StripeClient

    # -- merchant API ----------------------------------------------------------------------

    def create(self, **overrides: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/payments", json=payment_body(**overrides), headers=self.merchant.headers
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    def get(self, payment_id: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/payments/{payment_id}", headers=self.merchant.headers).get_json()  # type: ignore[no-any-return]

    def refund(self, payment_id: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.client.post(
            f"/api/v1/payments/{payment_id}/refunds",
            json=body,
            headers={**self.merchant.headers, **(headers or {})},
        )

    def refunds(self, payment_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/payments/{payment_id}/refunds", headers=self.merchant.headers)
        assert response.status_code == 200
        return response.get_json()["data"]  # type: ignore[no-any-return]

    def timeline(self, payment_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/payments/{payment_id}/events", headers=self.merchant.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]  # type: ignore[no-any-return]

    def types(self, payment_id: str) -> list[str]:
        return [entry["type"] for entry in self.timeline(payment_id)]

    # -- shopper ---------------------------------------------------------------------------

    def pay(
        self, payment: dict[str, Any], card_number: str = "4242424242424242", **extra: Any
    ) -> dict[str, Any]:
        return self.sandbox.pay(payment["stripe_checkout_session_id"], card_number=card_number, **extra)

    def pay_by_bank(self, payment: dict[str, Any], account_number: str = "000123456789") -> dict[str, Any]:
        return self.sandbox.pay(
            payment["stripe_checkout_session_id"],
            payment_method="us_bank_account",
            account_number=account_number,
        )

    def paid(self, card_number: str = "4242424242424242", **overrides: Any) -> dict[str, Any]:
        """A payment paid by card and seen ``succeeded`` (through the webhook)."""
        payment = self.create(**overrides)
        result = self.pay(payment, card_number)
        assert result["error"] is None, result
        return self.wait_status(payment["id"], "succeeded")

    def settled_by_bank(self, **overrides: Any) -> dict[str, Any]:
        """A payment paid by bank debit whose debit has settled: seen ``processing``, then (the
        sandbox clock moved past the settlement) ``succeeded``, every webhook delivered. Returns
        the payment as created."""
        payment = self.create(**overrides)
        self.pay_by_bank(payment)
        self.wait_status(payment["id"], "processing")
        self.sandbox.advance(6)
        self.wait_status(payment["id"], "succeeded")
        self.flush()
        return payment

    def wait_status(self, payment_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
        return wait_for(lambda: (p := self.get(payment_id))["status"] == status and p, timeout)  # type: ignore[no-any-return]

    def flush(self) -> None:
        """Wait until the sandbox has delivered every webhook it queued."""
        assert self.sandbox.flush()

    # -- Stripe side -----------------------------------------------------------------------

    def events_for(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Stripe events (oldest first) matching ``predicate``, from the Events API."""
        events = [e.to_dict(recursive=True) for e in self.stripe.v1.events.list(params={"limit": 100}).data]
        return [event for event in reversed(events) if predicate(event)]

    def handle(self, event: dict[str, Any], source: str = "webhook") -> str:
        with self.app.app_context():
            return handle_event(event, stripe_gateways(), livemodes=frozenset({True}), source=source)

    def db_types(self, payment_id: str) -> list[str]:
        with self.app.app_context():
            return timeline_types(payment_id)

    def seen(self, event_type: str) -> int:
        with self.app.app_context():
            return len(
                db.session.scalars(
                    sa.select(ProcessedStripeEvent.id).where(ProcessedStripeEvent.type == event_type)
                ).all()
            )


def session_event_matcher(payment: dict[str, Any], *types: str) -> Callable[[dict[str, Any]], bool]:
    """Predicate: an event of one of ``types`` about ``payment``'s Checkout Session."""

    def match(event: dict[str, Any]) -> bool:
        obj = event["data"]["object"]
        return event["type"] in types and obj.get("id") == payment["stripe_checkout_session_id"]

    return match


@pytest.fixture
def shop(
    app: Flask, client: FlaskClient, merchant: Any, sandbox_ctl: Any, stripe_client: stripe.StripeClient
) -> Shop:
    sandbox_ctl.webhooks(True)
    yield Shop(app=app, client=client, merchant=merchant, sandbox=sandbox_ctl, stripe=stripe_client)
    sandbox_ctl.webhooks(True)
    sandbox_ctl.flush()
