"""Fixtures for the broker tests: the real RabbitMQ and NATS on this machine, reached through a
TCP proxy that can cut the publisher off (a real network outage from its side), under an
exchange/stream name of the test's own so that parallel runs never see each other's messages.

``scripts/ensure-services.sh`` starts both brokers (``make test`` and CI run it first).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import nats
import pytest
from flask import Flask
from kombu import Connection

from app.extensions import db
from app.models import MerchantEvent
from app.notifications.broker import Subscription, subscribe
from app.payments.states import PaymentStatus
from tests.notifications.conftest import make_payment, notify_app, transition  # noqa: F401
from tests.support.tcp_proxy import TcpProxy

BROKERS = {
    "amqp": ("amqp://guest:guest@127.0.0.1:{port}//", 5672, "RabbitMQ"),
    "nats": ("nats://127.0.0.1:{port}", 4222, "NATS"),
}


@dataclass
class Broker:
    """A real broker for one test: ``url`` goes through ``proxy`` (cut it to play an outage),
    ``direct_url`` does not (the downstream consumer's view); ``exchange`` is the test's own."""

    kind: str
    url: str
    direct_url: str
    exchange: str
    proxy: TcpProxy

    def subscribe(self) -> Subscription:
        """A temporary subscription to everything under the test's exchange (not proxied)."""
        return subscribe(self.direct_url, exchange=self.exchange)

    def key(self, event_type: str) -> str:
        """The routing key (AMQP) or subject (NATS) an event of ``event_type`` is published under."""
        return event_type if self.kind == "amqp" else f"{self.exchange}.{event_type}"


def _require_running(port: int, name: str) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        pytest.fail(f"{name} is not running on 127.0.0.1:{port}: run scripts/ensure-services.sh")


def _remove(kind: str, direct_url: str, exchange: str) -> None:
    """Delete the test's AMQP exchange or JetStream stream."""
    if kind == "amqp":
        with Connection(direct_url, connect_timeout=5) as connection:
            connection.default_channel.exchange_delete(exchange)
        return

    async def delete_stream() -> None:
        nc = await nats.connect(direct_url, allow_reconnect=False)
        try:
            await nc.jetstream().delete_stream(exchange.upper())
        except nats.js.errors.NotFoundError:
            pass
        await nc.close()

    asyncio.run(delete_stream())


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    template, port, name = BROKERS[request.param]
    _require_running(port, name)
    exchange = f"payments_test_{secrets.token_hex(4)}"
    with TcpProxy("127.0.0.1", port) as proxy:
        handle = Broker(
            kind=request.param,
            url=template.format(port=proxy.port),
            direct_url=template.format(port=port),
            exchange=exchange,
            proxy=proxy,
        )
        yield handle
    _remove(handle.kind, handle.direct_url, exchange)


@pytest.fixture
def broker_app(notify_app: Flask, broker: Broker) -> Iterator[Flask]:  # noqa: F811
    """The app publishing to ``broker`` (through its proxy) under the test's exchange."""
    settings = {
        "EVENT_BROKER_URL": broker.url,
        "EVENT_BROKER_EXCHANGE": broker.exchange,
        "EVENT_BROKER_TIMEOUT": 2,
    }
    notify_app.config.update(settings)
    yield notify_app
    for name in settings:
        notify_app.config.pop(name)


@pytest.fixture
def succeed_payments(
    app: Flask,
    make_payment: Callable[..., str],  # noqa: F811
    transition: Callable[[str, PaymentStatus], None],  # noqa: F811
) -> Callable[[str, int], list[str]]:
    """Move ``n`` new payments of a merchant to succeeded (each writes a payment.succeeded event);
    returns the event ids in order."""

    def run(merchant_id: str, n: int, start: int = 0) -> list[str]:
        payment_ids = [make_payment(merchant_id, f"A-{start + i}") for i in range(n)]
        for payment_id in payment_ids:
            transition(payment_id, PaymentStatus.SUCCEEDED)
        with app.app_context():
            by_payment = dict(
                db.session.execute(
                    db.select(MerchantEvent.payment_id, MerchantEvent.id).where(
                        MerchantEvent.payment_id.in_(payment_ids)
                    )
                ).all()
            )
        return [by_payment[payment_id] for payment_id in payment_ids]

    return run


def drain(subscription: Subscription, *, quiet: float = 1.0) -> list:
    """Every message the subscription gets until none comes for ``quiet`` seconds (acknowledged)."""
    received = []
    while (message := subscription.get(timeout=quiet)) is not None:
        message.ack()
        received.append(message)
    return received
