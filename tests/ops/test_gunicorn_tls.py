"""Production-like: gunicorn serving TLS itself (self-signed certificate on 127.0.0.1), JSON logs,
and /metrics adding up every worker process (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.helpers import wait_for
from tests.ops.conftest import sample
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid one day (``cryptography`` if installed,
    else the openssl command)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_gunicorn_serves_https_with_json_logs_and_summed_metrics(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "APP_ENV": "production",
        "SECRET_KEY": "tls-test-secret",
        "STRIPE_SECRET_KEY": "sk_test_tls",
        "STRIPE_WEBHOOK_SECRET": "whsec_tls",
        "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
               "--certfile", str(cert), "--keyfile", str(key), "wsgi:app"]  # fmt: skip
    with (tmp_path / "stderr").open("w") as stderr:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"https://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"{base}/healthz", verify=str(cert), timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=30, interval=0.2)
        for _ in range(20):
            assert requests.get(f"{base}/healthz", verify=str(cert), timeout=5).json() == {"status": "ok"}
        metrics = requests.get(f"{base}/metrics", verify=str(cert), timeout=5)
        assert metrics.status_code == 200
        labels = {"endpoint": "health.healthz", "method": "GET", "status": "200"}
        assert sample(metrics.text, "checkout_http_requests_total", **labels) == 21
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    logged = (tmp_path / "stderr").read_text().splitlines()
    lines = [json.loads(line) for line in logged if line.startswith("{")]
    requests_logged = [line for line in lines if line["event"] == "request" and line["path"] == "/healthz"]
    assert len(requests_logged) == 21
    assert all(len(line["request_id"]) == 32 for line in requests_logged)
