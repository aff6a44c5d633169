"""Where a request's CPU goes: many creates, ``/pay``s or Stripe webhooks in one process, to
sample with a profiler from outside.

``python -m bench.profile create|pay|webhook [-n 2000]`` recreates the ``bench_service``
database (``--db``), starts the Stripe stand-in with no latency (only CPU is of interest), builds
the service in-process with its production config and logging as in gunicorn's workers, and runs
the request ``-n`` times through the Flask test client, one after another. It prints the
statement counts of one request (:mod:`bench.counting`) and the CPU ms per request. The test
client skips gunicorn's HTTP parsing and access log: this is the application's share.

Sample it with py-spy (on-CPU samples only, by default), e.g.::

    py-spy record -r 1000 -f raw -o /tmp/create.txt -- .venv/bin/python -m bench.profile create
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.counting import hot_path_counts
from bench.procs import Processes, free_port
from bench.run import reset_database, service_environment
from bench.variants import VARIANTS
from bench.workload import SHOP_DOMAIN, order_body, stripe_event, stripe_signature


def build_app(db_name: str, stripe_port: int) -> tuple[Any, str, str]:
    """The service on a fresh database with one merchant: ``(app, api_key, webhook_secret)``."""
    env = service_environment(reset_database(db_name), stripe_port)
    secret = env["STRIPE_WEBHOOK_SECRET"]
    os.environ.update(env)
    # Metrics in multiprocess mode (files), as gunicorn.conf.py sets up for the web workers.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))
    from flask_migrate import upgrade

    from app import create_app
    from app.db import unit_of_work
    from app.merchants import create_merchant
    from app.observability.logs import _Handler

    app = create_app()
    with app.app_context():
        upgrade()
        with unit_of_work():
            _, key = create_merchant("Bench shop", [SHOP_DOMAIN])
    # gunicorn's workers log JSON lines to stderr at INFO (app.observability.logs); so do we, into
    # /dev/null, so that the cost of logging is in the profile as it is in production.
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, _Handler))
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    return app, key, secret


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", choices=("create", "pay", "webhook"))
    parser.add_argument("-n", type=int, default=2000, help="requests to run (default 2000)")
    parser.add_argument("--db", default=os.environ.get("BENCH_SERVICE_DB", "bench_service"))
    parser.add_argument("--variant", choices=sorted(VARIANTS), action="append", default=[], help="what-if")
    args = parser.parse_args()
    stripe_port = free_port()
    with Processes(Path(os.environ.get("TMPDIR", "/tmp"))) as procs:
        procs.start(
            "profile-standin",
            [sys.executable, "-m", "bench.stripe_standin", "--port", str(stripe_port), "--latency", "0"],
            dict(os.environ),
            port=stripe_port,
        )
        app, key, secret = build_app(args.db, stripe_port)
        for variant in args.variant:
            VARIANTS[variant](app)
        print({name: trips.describe() for name, trips in hot_path_counts(app, key, secret).items()})
        client = app.test_client()
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        ids = [
            client.post("/api/v1/payments", data=order_body(f"pre-{n}"), headers=auth).get_json()["id"]
            for n in range(args.n if args.path == "pay" else 0)
        ]
        events = [stripe_event(f"evt_profile_{n:06d}") for n in range(args.n)]
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(args.n):
            if args.path == "create":
                response = client.post("/api/v1/payments", data=order_body(f"prof-{n}"), headers=auth)
            elif args.path == "pay":
                response = client.get(f"/pay/{ids[n]}")
            else:
                signature = stripe_signature(events[n], secret)
                response = client.post(
                    "/webhooks/stripe",
                    data=events[n],
                    headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                )
            assert response.status_code in (200, 201, 303), response.get_data(as_text=True)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{args.path} {args.variant or ''}: {cpu * 1000 / args.n:.2f} CPU ms, "
            f"{wall * 1000 / args.n:.2f} ms per request"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
