"""``python -m sandbox`` starts a server, prints its webhook secret and serves the API."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

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
