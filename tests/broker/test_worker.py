"""``flask worker`` with a broker: webhooks keep going out whatever the broker does."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections import Counter

import pytest

from tests.broker.conftest import drain
from tests.broker.test_publishing import unpublished
from tests.helpers import wait_for
from tests.notifications.support import ROOT, register

WORKER_SCRIPT = """
import sys
from app import create_app
from app.notifications.worker import Worker
app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                  "WEBHOOK_ALLOW_PRIVATE_URLS": True, "WEBHOOK_RETRY_SCHEDULE": [0, 0, 0],
                  "EVENT_BROKER_URL": sys.argv[2], "EVENT_BROKER_EXCHANGE": sys.argv[3],
                  "EVENT_BROKER_TIMEOUT": 2})
with app.app_context():
    Worker(name="broker-test").run(poll_interval=0.05)
"""


def start_worker(database_url: str, broker_url: str, exchange: str, log_path) -> subprocess.Popen[bytes]:
    """``Worker().run()`` (as ``flask worker``) in a process of its own, publishing to ``broker_url``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, database_url, broker_url, exchange], cwd=ROOT, stderr=log
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(15)


@pytest.mark.parametrize("outage", ["cut", "silent"])
def test_webhooks_go_out_while_the_broker_is_unreachable_and_events_follow_on_the_broker(
    outage, database_url, broker_app, broker, client, merchant, receiver, succeed_payments, tmp_path
):
    """``cut``: the connection drops and new ones are refused; ``silent``: the broker accepts the
    connection and never answers (each try then takes the whole connect timeout)."""
    register(client, merchant, receiver.url)
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never reads or answers
    silent_port = str(silent.getsockname()[1])
    url = broker.url if outage == "cut" else broker.url.replace(str(broker.proxy.port), silent_port)
    broker.proxy.cut()
    log_path = tmp_path / "worker.log"
    with broker.subscribe() as subscription:
        worker = start_worker(database_url, url, broker.exchange, log_path)
        try:
            event_ids = succeed_payments(merchant.id, 3)
            wait_for(lambda: len(receiver.received) >= 3, timeout=30)
            assert sorted(r.event["id"] for r in receiver.received) == sorted(event_ids)
            wait_for(lambda: b"broker_publish_failed" in log_path.read_bytes(), timeout=30)
            assert unpublished(broker_app) == 3
            if outage == "cut":
                broker.proxy.restore()
                wait_for(lambda: unpublished(broker_app) == 0, timeout=30)
        finally:
            assert stop(worker) == 0
            silent.close()
        received = drain(subscription)

    log = log_path.read_bytes()
    assert b"guest:guest" not in log  # the broker's credentials stay out of the logs
    if outage == "cut":
        assert Counter(m.message_id for m in received) == Counter(event_ids)
    else:
        assert received == []
