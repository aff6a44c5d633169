"""The service under real gunicorn (``gunicorn.conf.py``) on 127.0.0.1 (issue 7, findings 12 and 14).

gunicorn runs as a subprocess with the app in testing mode against the test database, and Stripe
(the sandbox) behind a TCP proxy that can slow it down. The tests assert outcomes (it answered,
with this status); the timings they print are for the notes, not asserted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import WEBHOOK_SECRET
from tests.helpers import payment_body, wait_for
from tests.support.servers import free_port
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Gunicorn:
    url: str
    stripe: TcpProxy
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def gunicorn(app, database_url, sandbox_server, tmp_path) -> Iterator[Gunicorn]:
    """gunicorn serving ``wsgi:app`` with ``gunicorn.conf.py`` (plus ``GUNICORN_ARGS`` from the
    environment, to measure other worker models), its access and error logs in one file."""
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    sandbox_port = int(sandbox_server.url.rsplit(":", 1)[1])
    with TcpProxy("127.0.0.1", sandbox_port) as stripe:
        env = {
            **os.environ,
            "APP_ENV": "testing",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": database_url,
            "STRIPE_API_BASE": f"http://{stripe.address}",
            "STRIPE_SECRET_KEY": "sk_test_suite",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
        }
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            *os.environ.get("GUNICORN_ARGS", "").split(),
            "wsgi:app",
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(url), timeout=30, interval=0.2)
            yield Gunicorn(url=url, stripe=stripe, log_path=log_path)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/openapi.json", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _timed_get(url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, allow_redirects=False, timeout=20, **kwargs)
    return response, time.monotonic() - started


def _slow_create(gunicorn: Gunicorn, merchant, index: int) -> int:
    body = payment_body(order_id=f"slow-{index}")
    api = f"{gunicorn.url}/api/v1/payments"
    return requests.post(api, json=body, headers=merchant.headers, timeout=30).status_code


def _slow_success_page(gunicorn: Gunicorn, merchant, index: int) -> int:
    url = f"{gunicorn.url}/checkout/success?session_id=cs_test_unknown{index}"
    return requests.get(url, timeout=30).status_code


@pytest.mark.parametrize(
    ("slow_request", "count", "answers"),
    [
        # 100, not 40: with 2 x 16 threads, 40 can by chance leave one worker a free thread.
        pytest.param(_slow_success_page, 100, {404}, id="success-pages"),
        pytest.param(_slow_create, 40, {201}, id="creates"),
    ],
)
def test_pay_answers_while_many_requests_wait_on_a_slow_stripe(
    gunicorn, merchant, slow_request, count, answers
):
    api = f"{gunicorn.url}/api/v1/payments"
    first = requests.post(api, json=payment_body(order_id="ready"), headers=merchant.headers, timeout=20)
    assert first.status_code == 201, first.text
    pay_url = f"{gunicorn.url}/pay/{first.json()['id']}"
    _, idle = _timed_get(pay_url)

    gunicorn.stripe.delay = 8.0
    results: list[int] = []

    def run(index: int) -> None:
        try:
            results.append(slow_request(gunicorn, merchant, index))
        except requests.RequestException:
            results.append(0)  # no answer in time

    slow = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in slow:
        thread.start()
    time.sleep(1.0)  # let them all reach Stripe
    try:
        response, busy = _timed_get(pay_url)
        in_flight = count - len(results)
    finally:
        gunicorn.stripe.delay = 0.0
        for thread in slow:
            thread.join(40)
    print(f"/pay: {idle * 1000:.0f} ms idle, {busy * 1000:.0f} ms with {in_flight} slow requests in flight")
    assert response.status_code == 303
    assert in_flight == count  # /pay answered while every slow request was still waiting on Stripe
    assert set(results) == answers, results


def _slow_header_client(url: str, stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    request = f"GET /api/v1/openapi.json HTTP/1.1\r\nHost: {host}\r\nX-Slow: {'a' * 200}\r\n\r\n".encode()
    try:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            for byte in request:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
    except OSError:
        return  # the server hung up on a client this slow: what we want


@pytest.mark.parametrize("slow_clients", [40, 100])
def test_service_answers_while_connections_send_headers_one_byte_at_a_time(gunicorn, slow_clients):
    stop = threading.Event()
    clients = [
        threading.Thread(target=_slow_header_client, args=(gunicorn.url, stop)) for _ in range(slow_clients)
    ]
    for thread in clients:
        thread.start()
    time.sleep(2.0)
    try:
        # Several requests on new connections: each may land on either worker.
        answers = [_timed_get(f"{gunicorn.url}/api/v1/openapi.json") for _ in range(4)]
    finally:
        stop.set()
        for thread in clients:
            thread.join(10)
    slowest = max(elapsed for _, elapsed in answers)
    print(f"4 normal requests, slowest {slowest * 1000:.0f} ms, with {slow_clients} slow-header connections")
    assert [response.status_code for response, _ in answers] == [200] * 4


def test_no_server_banner_and_security_headers_under_gunicorn(gunicorn):
    response = requests.get(f"{gunicorn.url}/api/v1/openapi.json", timeout=10)
    assert "gunicorn" not in response.headers.get("Server", "").lower()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_no_session_id_or_query_string_in_gunicorn_logs(gunicorn):
    secret = "cs_test_a1SecretSessionIdFromTheQuery"
    ok = requests.get(f"{gunicorn.url}/checkout/success?session_id={secret}", timeout=10)
    assert ok.status_code == 404
    host, port = gunicorn.url.removeprefix("http://").split(":")
    # Request lines gunicorn refuses itself, logging them on its error path.
    for line in (
        f"GET /checkout/success?session_id={secret} HTTP/1.1 extra",
        f"GET /checkout/success?session_id={secret} HTTP/9.9",
        f"GET /checkout/success?session_id={secret}&{'x' * 9000} HTTP/1.1",
    ):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"{line}\r\nHost: {host}\r\n\r\n".encode())
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
    time.sleep(0.5)  # let the log lines reach the file
    log = gunicorn.log()
    assert "/checkout/success" in log  # the requests were logged ...
    assert "session_id=" not in log and secret not in log  # ... without their query strings


def test_gunicorn_error_path_messages_lose_their_query_strings(tmp_path, monkeypatch):
    """gunicorn logs ``Error handling request <uri>`` (with the query) when an exception escapes
    the application, e.g. from a teardown while the database is down; its logger cuts it."""
    import importlib.util

    from gunicorn.config import Config

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    # Loading the config sets PROMETHEUS_MULTIPROC_DIR, which would put this process's metrics in
    # multiprocess mode for every later test: give it a value of its own, undone afterwards.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    spec.loader.exec_module(conf)
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = conf.RedactingLogger(cfg)
    try:
        raise RuntimeError("teardown failed for /checkout/success?session_id=cs_test_secret2")
    except RuntimeError:
        logger.exception("Error handling request %s", "/checkout/success?session_id=cs_test_secret1")
    logger.warning("Invalid request from ip=%s: %s", "127.0.0.1", "GET /x?session_id=cs_test_secret3")
    text = (tmp_path / "error.log").read_text()
    assert "Error handling request /checkout/success?[redacted]" in text
    assert "RuntimeError: teardown failed for /checkout/success?[redacted]" in text
    assert "cs_test_secret" not in text and "session_id=" not in text
