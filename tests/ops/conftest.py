"""Fixtures for the operations tests: log capture, metric reading, a full payment flow."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.logs import formatter


class JsonLines(logging.Handler):
    """Every log record rendered as the production JSON line, kept in ``lines``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter("json"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Capture every log line of the test (all loggers, INFO and up) as production renders it."""
    handler = JsonLines()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name`` with exactly ``labels`` in a Prometheus text page (0 if absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


@dataclass
class FlowRun:
    """What a full run touched: the merchant's API key, the endpoint's signing secret, the
    payment and its Checkout Session id."""

    api_key: str
    endpoint_secret: str
    payment_id: str
    session_id: str


@pytest.fixture
def full_flow(app, client, merchant, sandbox_ctl, receiver):  # type: ignore[no-untyped-def]
    """Run create → pay in the sandbox → Stripe webhook → refund → merchant notifications
    delivered to ``receiver``; returns a :class:`FlowRun`."""
    from app.notifications.worker import Worker
    from tests.helpers import payment_body, wait_for

    def run() -> FlowRun:
        app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = True
        try:
            endpoint = client.post(
                "/api/v1/webhook_endpoints",
                json={"url": receiver.url, "enabled_events": ["*"]},
                headers=merchant.headers,
            )
            assert endpoint.status_code == 201, endpoint.json
            created = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers)
            assert created.status_code == 201, created.json
            payment = created.json
            sandbox_ctl.pay(payment["stripe_checkout_session_id"], card_number="4242 4242 4242 4242")

            def status() -> str:
                got = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant.headers)
                return str(got.json["status"])

            wait_for(lambda: status() == "succeeded")
            refund = client.post(
                f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}, headers=merchant.headers
            )
            assert refund.status_code == 200 or refund.status_code == 201, refund.json
            wait_for(lambda: status() == "partially_refunded")
            with app.app_context():
                wait_for(lambda: Worker(name="flow").run_once() == 0 and len(receiver.bodies) >= 2)
            types = {json.loads(body)["type"] for body in receiver.bodies}
            assert {"payment.succeeded", "refund.succeeded"} <= types, types
        finally:
            app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = False
        return FlowRun(
            api_key=merchant.api_key,
            endpoint_secret=endpoint.json["secret"],
            payment_id=payment["id"],
            session_id=payment["stripe_checkout_session_id"],
        )

    return run
