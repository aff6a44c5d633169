"""Helpers shared by the notification tests: registering an endpoint, a worker process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
WORKER_SCRIPT = """
import sys
from sqlalchemy import event
from app import create_app
from app.extensions import db
from app.notifications.worker import Worker
app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                  "WEBHOOK_ALLOW_PRIVATE_URLS": True, "WEBHOOK_RETRY_SCHEDULE": [0, 0, 0]})
with app.app_context():
    if len(sys.argv) > 3 and db.engine.dialect.name == "sqlite":
        # Give up on a locked database after sys.argv[3] ms (15 s by default): a quick outage.
        event.listen(db.engine, "connect", lambda conn, _: conn.execute(f"PRAGMA busy_timeout={sys.argv[3]}"))
    Worker(name=sys.argv[2]).run(poll_interval=0.05)
"""


def register(client: Any, merchant: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """Register a webhook endpoint for ``merchant`` through the API; returns it (with its secret)."""
    response = client.post(
        "/api/v1/webhook_endpoints",
        json={"url": url, "enabled_events": events or ["*"], "description": "orders"},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def start_worker_process(
    database_url: str, name: str, *, busy_timeout_ms: int | None = None, stderr: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """``Worker(name).run()`` in a process of its own on ``database_url`` (as ``flask worker``)."""
    env = {**os.environ, "APP_ENV": "testing"}
    args = [sys.executable, "-c", WORKER_SCRIPT, database_url, name]
    if busy_timeout_ms is not None:
        args.append(str(busy_timeout_ms))
    return subprocess.Popen(args, cwd=ROOT, env=env, stderr=stderr)
