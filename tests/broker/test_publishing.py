"""Every merchant event reaches the real broker once per id, also across a network outage."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import MerchantEvent
from app.notifications.broker import BrokerError
from app.notifications.publisher import EventPublisher, publisher_from_config
from app.notifications.serializers import event_to_dict
from app.notifications.settings import NotificationSettings
from app.payments.states import PaymentStatus
from tests.broker.conftest import drain
from tests.helpers import wait_for


def unpublished(app) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).where(MerchantEvent.broker_published_at.is_(None))
        )
        db.session.rollback()
        return int(count or 0)


def publish_all(app, publisher: EventPublisher) -> int:
    with app.app_context():
        total = 0
        while published := publisher.publish_due():
            total += published
        return total


def test_every_event_is_published_once_under_its_event_id(
    broker_app, broker, merchant, make_payment, transition, succeed_payments
):
    failed = make_payment(merchant.id, "B-1")
    transition(failed, PaymentStatus.PROCESSING)
    transition(failed, PaymentStatus.FAILED)
    with broker.subscribe() as subscription:
        event_ids = succeed_payments(merchant.id, 5)
        with broker_app.app_context():
            publisher = publisher_from_config("test", NotificationSettings.from_config(broker_app.config))
            assert publisher is not None
        assert publish_all(broker_app, publisher) == 7
        assert publish_all(broker_app, publisher) == 0  # nothing is published twice
        publisher.close()
        received = drain(subscription)

    with broker_app.app_context():
        events = {e.id: e for e in db.session.scalars(sa.select(MerchantEvent))}
        assert all(e.broker_published_at is not None for e in events.values())
        assert set(event_ids) <= set(events)
        assert Counter(m.message_id for m in received) == Counter(list(events))  # each id exactly once
        for message in received:
            event = events[message.message_id]
            assert message.body == json.dumps(event_to_dict(event)).encode()  # the webhook body
            assert message.key == broker.key(event.type)
    assert sorted({m.key for m in received}) == sorted(
        broker.key(t) for t in ("payment.failed", "payment.processing", "payment.succeeded")
    )
    if broker.kind == "amqp":
        assert {m.properties["delivery_mode"] for m in received} == {2}  # persistent
        assert {m.properties["content_type"] for m in received} == {"application/json"}


def test_a_broker_outage_during_a_burst_delays_publishing_and_loses_nothing(
    broker_app, broker, merchant, succeed_payments
):
    stop = threading.Event()
    with broker_app.app_context():
        publisher = EventPublisher(
            broker.url, name="test", exchange=broker.exchange, timeout=2, backoff=(0.2, 1.0)
        )

    def publish() -> None:
        with broker_app.app_context():
            publisher.run(stop, poll_interval=0.05)

    thread = threading.Thread(target=publish)
    with broker.subscribe() as subscription:
        thread.start()
        try:
            before = succeed_payments(merchant.id, 10)
            wait_for(lambda: unpublished(broker_app) == 0)
            broker.proxy.cut()
            during = succeed_payments(merchant.id, 20, start=10)  # the burst goes on, broker unreachable
            wait_for(lambda: publisher.failures >= 2, timeout=15)
            assert unpublished(broker_app) == 20  # kept, waiting for the broker
            broker.proxy.restore()
            wait_for(lambda: unpublished(broker_app) == 0, timeout=15)
        finally:
            stop.set()
            thread.join(10)
        received = drain(subscription)

    assert not thread.is_alive()
    counts = Counter(m.message_id for m in received)
    assert set(counts) == set(before + during)  # all arrive
    assert max(counts.values()) == 1  # none twice


def test_a_lost_confirmation_is_published_again_under_the_same_id(
    broker_app, broker, merchant, succeed_payments
):
    """The broker took the message but its confirmation never reached us: at least once means
    it goes out again, with the same id, so the consumer can drop it (JetStream drops it itself)."""
    with broker_app.app_context():
        publisher = EventPublisher(broker.url, name="test", exchange=broker.exchange, timeout=5)
    with broker.subscribe() as subscription:
        succeed_payments(merchant.id, 1)
        assert publish_all(broker_app, publisher) == 1  # connected; the next answers will be late
        [event_id] = succeed_payments(merchant.id, 1, start=1)
        broker.proxy.delay = 2.0  # the broker's confirmation waits in the proxy …
        outcome: list[object] = []

        def publish() -> None:
            with broker_app.app_context():
                try:
                    outcome.append(publisher.publish_due())
                except BrokerError as exc:
                    outcome.append(exc)

        thread = threading.Thread(target=publish)
        thread.start()
        time.sleep(0.7)
        broker.proxy.cut()  # … and is lost with the connection
        thread.join(10)
        assert isinstance(outcome[0], BrokerError)
        assert unpublished(broker_app) == 1
        broker.proxy.delay = 0.0
        broker.proxy.restore()
        wait_for(lambda: publish_all(broker_app, publisher) == 1)
        publisher.close()
        received = [m for m in drain(subscription) if m.message_id == event_id]

    bodies = {m.body for m in received}
    assert len(bodies) == 1  # every copy is the same message
    assert len(received) == (2 if broker.kind == "amqp" else 1)


@pytest.mark.parametrize("broker", ["amqp"], indirect=True)  # AMQP has no broker-side dedupe
def test_two_publishers_side_by_side_publish_each_event_once(broker_app, broker, merchant, succeed_payments):
    event_ids = succeed_payments(merchant.id, 40)
    start = threading.Barrier(2)
    published: dict[str, int] = {}

    def work(name: str) -> None:
        with broker_app.app_context():
            publisher = EventPublisher(broker.url, name=name, exchange=broker.exchange, batch=5)
            start.wait()
            published[name] = publish_all(broker_app, publisher)
            publisher.close()

    with broker.subscribe() as subscription:
        threads = [threading.Thread(target=work, args=(name,)) for name in ("p1", "p2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        received = drain(subscription)

    assert sum(published.values()) == 40
    assert Counter(m.message_id for m in received) == Counter(event_ids)
