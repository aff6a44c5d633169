"""``python -m sandbox`` starts a server, prints its webhook secret and serves the API."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import stripe

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_runs_server():
    port = _free_port()
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--settle-delay", "3"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            banner = [process.stdout.readline() for _ in range(2)]
            assert any(line.startswith("Webhook signing secret: whsec_") for line in banner), banner
            url = f"http://127.0.0.1:{port}"
            with requests.Session() as http:
                for _ in range(50):
                    try:
                        if http.get(f"{url}/_sandbox/health", timeout=1).ok:
                            break
                    except requests.ConnectionError:
                        time.sleep(0.1)
                response = http.post(
                    f"{url}/v1/checkout/sessions",
                    headers={"Authorization": "Bearer sk_test_cli"},
                    data={
                        "mode": "payment",
                        "line_items[0][price_data][currency]": "usd",
                        "line_items[0][price_data][unit_amount]": "700",
                        "line_items[0][price_data][product_data][name]": "Mug",
                        "line_items[0][quantity]": "1",
                    },
                    timeout=5,
                )
            assert response.status_code == 200
            assert response.json()["url"].startswith(f"{url}/pay/cs_test_")
        finally:
            process.terminate()
            process.wait(5)


def _start(*options):
    """Start ``python -m sandbox`` with ``options`` on a free port; returns (process, url)."""
    port = _free_port()
    command = [sys.executable, "-m", "sandbox", "--port", str(port), *options]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(process.communicate())


def _stop(process):
    process.terminate()
    process.communicate(timeout=5)


def test_faults_and_decline_rate_from_the_command_line():
    process, url = _start(
        "--fault",
        '{"path": "/v1/events", "method": "GET", "status": 500}',
        "--fault",
        '{"path": "/v1/events", "latency": [0, 0.01], "seed": 4}',
        "--decline-rate",
        "0.25",
        "--seed",
        "9",
        "--webhook-retries",
        "1,2",
    )
    try:
        headers = {"Authorization": "Bearer sk_test_cli"}
        response = requests.get(f"{url}/v1/events", headers=headers, timeout=5)
        assert response.status_code == 500 and response.json()["error"]["type"] == "api_error"
        faults = requests.get(f"{url}/_sandbox/faults", timeout=5).json()["faults"]
        assert [f.get("status") for f in faults] == [500, None]
        settings = requests.get(f"{url}/_sandbox/settings", timeout=5).json()
        assert settings["decline_rate"] == 0.25 and settings["webhook_retry_delays"] == [1.0, 2.0]
    finally:
        _stop(process)


def test_a_bad_fault_stops_the_command_with_a_message():
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--fault", '{"status": 418}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "`status` must be 500" in result.stderr


def _trigger(event_type, url):
    command = [sys.executable, "-m", "sandbox", "trigger", event_type, "--api", url]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)


def test_trigger_and_listen(receiver):
    process, url = _start("--settle-delay", "3")
    listener = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "listen",
            "--api",
            url,
            "--forward-to",
            receiver.url,
            "--webhook-secret",
            "whsec_listen",
            "--max-events",
            "5",
            "--poll",
            "0.1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout.readline().strip() == "Ready! Your webhook signing secret is whsec_listen"
        triggered = _trigger("checkout.session.completed", url)
        assert triggered.returncode == 0, triggered.stderr
        lines = triggered.stdout.splitlines()
        assert [line.split(" ")[0] for line in lines[:-1]] == [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed",
            "charge.updated",
        ]
        out, err = listener.communicate(timeout=20)
        assert listener.returncode == 0, err
        assert out.count("<--  [200] POST") == 5 and "--> checkout.session.completed [evt_" in out
        for delivery in receiver.received:
            stripe.Webhook.construct_event(
                delivery.body, delivery.headers["stripe-signature"], "whsec_listen"
            )

        failed = _trigger("refund.failed", url)
        assert "refund.failed [evt_" in failed.stdout, failed.stderr
        settled = _trigger("checkout.session.async_payment_succeeded", url)
        assert "checkout.session.async_payment_succeeded [evt_" in settled.stdout, settled.stderr
    finally:
        listener.kill()
        _stop(process)
