"""The worker scales out safely: parallel workers, crashed workers, SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Delivery
from app.notifications.outbox import status_counts
from app.notifications.worker import Worker
from app.payments.states import PaymentStatus
from tests.helpers import wait_for
from tests.notifications.support import start_worker_process


@pytest.fixture
def endpoint_for(notify_app, client):
    def register(merchant, url):
        body = {"url": url, "enabled_events": ["*"]}
        response = client.post("/api/v1/webhook_endpoints", json=body, headers=merchant.headers)
        assert response.status_code == 201
        return response.json

    return register


@pytest.mark.server_db  # SELECT … FOR UPDATE SKIP LOCKED; SQLite runs a single worker
def test_two_workers_in_parallel_deliver_every_message_once(
    is_mysql, notify_app, merchant, receiver, endpoint_for, make_payment, transition
):
    endpoint_for(merchant, receiver.url)
    for n in range(30):
        transition(make_payment(merchant.id, f"A-{n}"), PaymentStatus.SUCCEEDED)
    receiver.delay = 0.05
    attempted: dict[str, int] = {}
    start = threading.Barrier(2)

    def work(name: str) -> None:
        # Like ``flask worker``'s loop: keep polling until no message is left to deliver.
        with notify_app.app_context():
            worker = Worker(name=name)
            attempted[name] = 0
            start.wait()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                attempted[name] += worker.run_once()
                counts = status_counts()
                if counts["pending"] == counts["retrying"] == 0:
                    break
                time.sleep(0.01)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    sent = Counter(r.webhook_id for r in receiver.received)
    assert len(sent) == 30 and set(sent.values()) == {1}
    assert attempted["w1"] > 0 and attempted["w2"] > 0
    assert attempted["w1"] + attempted["w2"] == 30
    with notify_app.app_context():
        assert status_counts()["succeeded"] == 30


@pytest.mark.server_db
def test_a_claim_passes_over_a_message_another_worker_has_locked(
    notify_app, merchant, receiver, endpoint_for, make_payment, transition
):
    endpoint_for(merchant, receiver.url)
    for order_id in ("A-1", "A-2"):
        transition(make_payment(merchant.id, order_id), PaymentStatus.SUCCEEDED)
    with notify_app.app_context():
        oldest, newer = db.session.scalars(sa.select(Delivery.id).order_by(Delivery.next_attempt_at)).all()
        db.session.rollback()
        claimed: list[str | None] = []

        def claim() -> None:
            with notify_app.app_context():
                claimed.append(Worker(name="w2").claim())

        with db.engine.connect() as other_worker:  # mid-claim on the oldest message
            other_worker.execute(sa.select(Delivery.id).where(Delivery.id == oldest).with_for_update())
            thread = threading.Thread(target=claim)
            thread.start()
            thread.join(10)  # without SKIP LOCKED the claim waits for the other worker's lock
            other_worker.rollback()
        thread.join(60)
    assert claimed == [newer]


def test_a_claim_whose_lease_ran_out_is_delivered_by_another_worker(
    notify_app, merchant, receiver, endpoint_for, make_payment, transition
):
    endpoint_for(merchant, receiver.url)
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    with notify_app.app_context():
        crashed = Worker(name="crashed", lease=timedelta(milliseconds=300))
        assert crashed.claim() is not None  # ...and it never sends or finishes
        survivor = Worker(name="survivor")
        assert survivor.run_once() == 0  # still leased
        wait_for(lambda: survivor.run_once() == 1, timeout=5)
        assert status_counts()["succeeded"] == 1
    assert len(receiver.received) == 1


def test_a_worker_killed_mid_delivery_loses_nothing(
    database_url, notify_app, merchant, receiver, endpoint_for, make_payment, transition
):
    endpoint_for(merchant, receiver.url)
    receiver.replies = [("sleep", 30)]  # the doomed worker waits for this answer
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    doomed = start_worker_process(database_url, "doomed")
    try:
        wait_for(lambda: len(receiver.received) == 1, timeout=20)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)

    with notify_app.app_context():
        (delivery,) = db.session.scalars(sa.select(Delivery)).all()
        assert delivery.status == "pending" and delivery.locked_by == "doomed"
        # Time passes: the lease runs out.
        db.session.execute(sa.update(Delivery).values(locked_until=delivery.created_at))
        db.session.commit()
        assert Worker(name="survivor").run_once() == 1
        assert status_counts()["succeeded"] == 1
    assert [r.webhook_id for r in receiver.received] == [receiver.received[0].webhook_id] * 2


def test_sigterm_lets_the_current_message_finish_before_exit(
    database_url, notify_app, merchant, receiver, endpoint_for, make_payment, transition
):
    endpoint_for(merchant, receiver.url)
    receiver.replies = [("sleep", 1.0)]
    transition(make_payment(merchant.id), PaymentStatus.SUCCEEDED)
    worker = start_worker_process(database_url, "graceful")
    try:
        wait_for(lambda: len(receiver.received) == 1, timeout=20)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    with notify_app.app_context():
        assert status_counts() == {"pending": 0, "retrying": 0, "succeeded": 1, "failed": 0}
    assert len(receiver.received) == 1
