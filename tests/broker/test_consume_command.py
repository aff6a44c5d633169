"""``flask events consume``: what a downstream service receives, and the settings' errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from app.notifications.broker import publisher_for, safe_address
from app.notifications.publisher import EventPublisher
from tests.broker.test_publishing import publish_all
from tests.helpers import wait_for
from tests.notifications.support import ROOT


def consume(broker, tmp_path, *args: str) -> tuple[subprocess.Popen[str], object]:
    """Start ``flask --app wsgi events consume`` on ``broker`` (not proxied); returns the process
    once it listens, and its stderr file."""
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path}/unused.sqlite3"}
    stderr = open(tmp_path / "stderr.txt", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "events", "consume",
         "--broker", broker.direct_url, "--exchange", broker.exchange, *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip
    try:  # a new process imports the whole app: on a loaded machine that takes a while
        wait_for(
            lambda: "listening on" in (tmp_path / "stderr.txt").read_text() or process.poll() is not None,
            timeout=60,
        )
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
    return process, stderr


def test_consume_prints_each_event_as_received_and_stops_after_max(
    broker_app, broker, merchant, succeed_payments, tmp_path
):
    process, stderr = consume(broker, tmp_path, "--max", "2")
    event_ids = succeed_payments(merchant.id, 2)
    publisher = EventPublisher(broker.url, name="test", exchange=broker.exchange)
    assert publish_all(broker_app, publisher) == 2
    publisher.close()
    out, _ = process.communicate(timeout=20)
    stderr.close()

    assert process.returncode == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["message_id"] for line in lines] == event_ids
    assert [line["event"]["id"] for line in lines] == event_ids
    assert {line["key"] for line in lines} == {broker.key("payment.succeeded")}
    assert "2 event(s) received" in (tmp_path / "stderr.txt").read_text()


def test_consume_stops_cleanly_on_ctrl_c(broker, tmp_path):
    process, stderr = consume(broker, tmp_path)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=15)
    stderr.close()
    assert process.returncode == 0
    assert "0 event(s) received" in (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()


def test_consume_names_a_bad_broker_url(app):
    result = app.test_cli_runner().invoke(args=["events", "consume", "--broker", "http://127.0.0.1:5672"])
    assert result.exit_code == 2
    assert "EVENT_BROKER_URL must start with amqp://" in result.output


@pytest.mark.parametrize(
    ("url", "exchange", "message"),
    [
        ("redis://127.0.0.1:6379", "payments", "EVENT_BROKER_URL must start with"),
        ("nats://127.0.0.1:4222", "pay.ments", "EVENT_BROKER_EXCHANGE must be letters"),
    ],
)
def test_unusable_broker_settings_are_refused_naming_the_setting(url, exchange, message):
    with pytest.raises(ValueError, match=message):
        publisher_for(url, exchange=exchange)


def test_log_lines_show_the_broker_without_its_credentials():
    assert safe_address("amqp://svc:s3cret@rabbit.internal:5672/prod") == "amqp://rabbit.internal:5672"
