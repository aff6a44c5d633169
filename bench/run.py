"""``make bench`` / ``python -m bench``: one run, one table of figures and ratios.

Starts on 127.0.0.1: the Stripe stand-in (answering after ``--latency`` s), the service
(``gunicorn -c gunicorn.conf.py wsgi:app``, ``APP_ENV=production``, MariaDB database
``bench_service``, a bench merchant made with ``flask merchants create``), the floor
(:mod:`bench.floor` under the same gunicorn settings, database ``bench_floor``), the naive
quickstart-style peer (:mod:`bench.naive` under ``flask run --with-threads``) and a merchant
webhook receiver; drives them with wrk for ``--seconds`` per figure; runs the notification
worker (1, then 2 processes) over seeded messages; prints the table. Every process it starts
is stopped when it ends, also on failure or Ctrl-C. Both databases are dropped and recreated.

CPU per request is the CPU time (user + system, from ``/proc``) the web workers (gunicorn's
children; the ``flask run`` process for the peer) used during the wrk run, divided by the
responses wrk counted. Figures are printed, never asserted; the machine is shared, so compare
ratios within one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import floor
from bench.counting import hot_path_counts
from bench.loadgen import WrkResult, wrk
from bench.procs import Processes, children, cpu_seconds, free_port, rss_mib
from bench.variants import VARIANTS
from bench.workload import SHOP_DOMAIN, order_body, stripe_event, stripe_signature

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MYSQL = os.environ.get("BENCH_MYSQL", "mysql+pymysql://root@127.0.0.1")


@dataclass
class Server:
    """A web server under test: its base URL and the process whose children are its workers
    (``workers_of_self`` for a single-process server)."""

    name: str
    url: str
    process: subprocess.Popen[Any]
    workers_of_self: bool = False

    def workers(self) -> list[int]:
        """The pids doing the work."""
        return [self.process.pid] if self.workers_of_self else children(self.process.pid)

    def cpu(self) -> float:
        """CPU seconds used so far by the workers."""
        return sum(cpu_seconds(pid) for pid in self.workers())


@dataclass
class Measured:
    """One wrk run and the CPU spent around it."""

    load: WrkResult
    cpu_ms_per_request: float
    stripe_calls: int = 0
    standin_cpu_s: float = 0.0


@dataclass
class Deliveries:
    """One round of merchant webhook deliveries: messages/s between the receiver's first and
    last POST, the workers' CPU ms per message, messages seeded, succeeded (in the database),
    distinct ``webhook-id``s received."""

    rate: float
    cpu_ms: float
    seeded: int
    succeeded: int
    distinct: int


@dataclass
class Results:
    """Everything the table shows."""

    creates: dict[str, Measured] = field(default_factory=dict)  # "service@64", "floor@64", "naive@64"
    pays: dict[str, Measured] = field(default_factory=dict)
    webhooks: dict[str, Measured] = field(default_factory=dict)
    deliveries: dict[int, Deliveries] = field(default_factory=dict)  # by number of workers
    rss: dict[str, list[float]] = field(default_factory=dict)
    round_trips: dict[str, str] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)


#: Every limit of ``app.config.RATE_LIMITS`` (a merchant API key, a client address) raised far above
#: what one machine can send, so that the bench measures the limiter's cost, never its 429s.
BENCH_RATE_LIMIT = "10000000 per minute"


def service_environment(database_url: str, stripe_port: int) -> dict[str, str]:
    """The service's settings as a merchant deploys it: production, the Stripe stand-in, rate limits
    counted in Redis (127.0.0.1:6379, ``RATELIMIT_STORAGE_URI`` wins if set) but never reached."""
    from app.config import RATE_LIMITS

    return {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        # Production insists on https; it is only the base of the success and cancel URLs.
        "PUBLIC_BASE_URL": "https://shop-checkout.bench.example",
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0"),
        **dict.fromkeys(RATE_LIMITS, BENCH_RATE_LIMIT),
    }


def reset_database(name: str) -> str:
    """Drop and create database ``name`` on the bench's MariaDB; return its SQLAlchemy URL."""
    engine = sa.create_engine(MYSQL)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        engine.dispose()
    return f"{MYSQL}/{name}"


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one SQL query on the database at SQLAlchemy ``url`` (pymysql underneath)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def get_json(url: str) -> Any:
    """GET ``url`` and parse its JSON answer."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


class Bench:
    """One benchmark run (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, procs: Processes) -> None:
        self.args = args
        self.procs = procs
        self.results = Results()
        self.base_env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT)}
        self.stripe_port = free_port()
        self.receiver_port = free_port()
        self.standin: subprocess.Popen[Any] | None = None
        self.service_env: dict[str, str] = {}
        self.api_key = ""
        # The service as shipped, or with the what-ifs of --variant applied (bench.variants).
        self.wsgi_app = "bench.variant_wsgi:app" if args.variant else "wsgi:app"
        self.app: Any = None  # the service's app, in-process, for counting and seeding
        self.delivered = 0  # messages succeeded in earlier rounds

    # --- set-up -------------------------------------------------------------------------------

    def start_peers(self) -> None:
        """The Stripe stand-in and the merchant's webhook receiver."""
        self.standin = self.procs.start(
            "stripe-standin",
            [sys.executable, "-m", "bench.stripe_standin", "--port", str(self.stripe_port),
             "--latency", str(self.args.latency)],
            self.base_env, port=self.stripe_port,
        )  # fmt: skip
        self.procs.start(
            "receiver",
            [sys.executable, "-m", "bench.receiver", "--port", str(self.receiver_port)],
            self.base_env,
            port=self.receiver_port,
        )

    def start_service(self) -> Server:
        """Migrate ``bench_service``, create the merchant and its webhook endpoint with the CLI,
        start gunicorn with the production config."""
        port = free_port()
        self.service_env = {
            **self.base_env,
            **service_environment(reset_database(self.args.service_db), self.stripe_port),
            "PORT": str(port),
            "BENCH_VARIANTS": ";".join(self.args.variant),
        }
        cli_env = {**self.service_env, "WEBHOOK_ALLOW_PRIVATE_URLS": "1"}  # the receiver is on loopback
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], env=cli_env, cwd=ROOT, check=True, capture_output=True)
        made = subprocess.run(
            [*flask, "merchants", "create", "--name", "Bench shop", "--allowed-domain", SHOP_DOMAIN],
            env=cli_env, cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        merchant = json.loads(made.stdout.strip().splitlines()[-1])
        self.api_key = merchant["api_key"]
        subprocess.run(
            [*flask, "merchants", "add-webhook", merchant["merchant_id"], f"http://127.0.0.1:{self.receiver_port}/hook"],
            env=cli_env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        process = self.procs.start(
            "service",
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", self.wsgi_app],
            self.service_env,
            port=port,
        )
        return Server("service", f"http://127.0.0.1:{port}", process)

    def start_floor(self) -> Server:
        """Create ``bench_floor``'s tables and start the floor under the same gunicorn settings."""
        url = reset_database(self.args.floor_db)
        floor.create_schema(url)
        port = free_port()
        env = {
            **self.base_env,
            "FLOOR_DATABASE_URL": url,
            "STRIPE_API_BASE": f"http://127.0.0.1:{self.stripe_port}",
            "STRIPE_WEBHOOK_SECRET": self.service_env["STRIPE_WEBHOOK_SECRET"],
            "PORT": str(port),
        }
        process = self.procs.start(
            "floor",
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "bench.floor:app"],
            env,
            port=port,
        )
        return Server("floor", f"http://127.0.0.1:{port}", process)

    def start_naive(self) -> Server:
        """The quickstart-style peer under Flask's threaded development server."""
        port = free_port()
        env = {**self.base_env, "STRIPE_API_BASE": f"http://127.0.0.1:{self.stripe_port}"}
        process = self.procs.start(
            "naive",
            [str(BIN / "flask"), "--app", "bench.naive", "run", "--port", str(port), "--with-threads"],
            env,
            port=port,
        )
        return Server("naive", f"http://127.0.0.1:{port}", process, workers_of_self=True)

    # --- measurements -------------------------------------------------------------------------

    def measure(self, server: Server, connections: int, *mode_args: str) -> Measured:
        """One wrk run against ``server``, with the workers' and the stand-in's CPU around it."""
        assert self.standin is not None
        stripe_url = f"http://127.0.0.1:{self.stripe_port}/_bench/stats"
        calls_before, standin_before = get_json(stripe_url)["requests"], cpu_seconds(self.standin.pid)
        cpu_before = server.cpu()
        load = wrk(server.url, connections, self.args.seconds, *mode_args)
        cpu_ms = (server.cpu() - cpu_before) * 1000 / max(load.requests, 1)
        return Measured(
            load,
            cpu_ms,
            stripe_calls=get_json(stripe_url)["requests"] - calls_before,
            standin_cpu_s=cpu_seconds(self.standin.pid) - standin_before,
        )

    def creates(self, server: Server, path: str, key: str, connections: tuple[int, ...]) -> None:
        """Creates/s at each of ``connections`` (after a short warm-up)."""
        body = order_body(f"{server.name}-ORDER_ID-{{run}}")
        wrk(server.url, 16, 2, "create", path, key, body.replace("{run}", "warmup"))
        for conns in connections:
            label = f"{server.name}@{conns}"
            self.results.creates[label] = self.measure(
                server, conns, "create", path, key, body.replace("{run}", label)
            )
            self.report(label, self.results.creates[label])

    def pays(self, server: Server, ids: list[str], tmp: Path) -> None:
        """``GET /pay/<id>`` over open payments at 8 and 64 connections."""
        paths = tmp / f"{server.name}-pay.txt"
        paths.write_text("".join(f"/pay/{pid}\n" for pid in ids))
        for conns in (8, 64):
            label = f"{server.name}@{conns}"
            self.results.pays[label] = self.measure(server, conns, "pay", str(paths))
            self.report(f"pay {label}", self.results.pays[label])

    def webhooks(self, server: Server, tmp: Path) -> None:
        """Signed, distinct Stripe events at 64 connections, each sent once."""
        secret = self.service_env["STRIPE_WEBHOOK_SECRET"]
        events = tmp / f"{server.name}-events.txt"
        count = self.args.seconds * 4000
        with events.open("w") as out:
            for n in range(count):
                payload = stripe_event(f"evt_{server.name}_{n:07d}")
                out.write(f"{stripe_signature(payload, secret)}\t{payload}\n")
        label = f"{server.name}@64"
        measured = self.measure(server, 64, "webhook", str(events), "2")
        if measured.load.requests > count:
            print(f"  warning: {label} sent {measured.load.requests} > {count} events; some were repeats")
        self.results.webhooks[label] = measured
        self.report(f"webhook {label}", measured)

    def deliveries(self, workers: int) -> None:
        """Seed ``--deliveries`` merchant messages (one ``payment.succeeded`` event each, through
        the outbox), run ``workers`` notification workers until all have succeeded, and take the
        rate between the receiver's first and last POST."""
        from app.extensions import db
        from app.models import Delivery, Payment
        from app.payments.transitions import notify_merchant

        get_json(f"http://127.0.0.1:{self.receiver_port}/_bench/reset")
        count = self.args.deliveries
        with self.app.app_context():
            payments = db.session.query(Payment).limit(count).all()
            for n in range(count):  # one new event (and message) each, whatever the number of payments
                notify_merchant("payment.succeeded", payments[n % len(payments)])
            db.session.commit()
        env = {**self.service_env, "WEBHOOK_ALLOW_PRIVATE_URLS": "1"}
        started = [
            self.procs.start(f"worker-{workers}-{n}", [str(BIN / "flask"), "--app", "wsgi", "worker"], env)
            for n in range(workers)
        ]
        stats_url = f"http://127.0.0.1:{self.receiver_port}/_bench/stats"
        deadline = time.monotonic() + self.args.deliveries_timeout
        stats = get_json(stats_url)
        first: tuple[int, float] | None = None  # (received, workers' CPU s) once delivering
        while stats["received"] < count and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = get_json(stats_url)
            if first is None and stats["received"]:  # CPU from here on: start-up excluded
                first = stats["received"], sum(cpu_seconds(p.pid) for p in started)
        time.sleep(1)  # let a stray duplicate, if any, arrive before counting
        stats = get_json(stats_url)
        cpu_ms = 0.0
        if first is not None and stats["received"] > first[0]:
            cpu = sum(cpu_seconds(p.pid) for p in started) - first[1]
            cpu_ms = cpu * 1000 / (stats["received"] - first[0])
        for process in started:
            self.procs.stop(process)
        with self.app.app_context():
            succeeded = db.session.query(Delivery).filter_by(status="succeeded").count() - self.delivered
            self.delivered += succeeded
            db.session.rollback()
        span = stats["last"] - stats["first"]
        rate = (stats["received"] - 1) / span if span > 0 else 0.0
        self.results.deliveries[workers] = Deliveries(rate, cpu_ms, count, succeeded, stats["distinct"])
        print(
            f"  deliveries with {workers} worker(s): {rate:.0f}/s, {cpu_ms:.2f} CPU ms each; "
            f"{succeeded}/{count} succeeded, "
            f"{stats['received']} POSTs, {stats['distinct']} distinct webhook-ids"
        )

    def count_round_trips(self) -> None:
        """Statements per create, /pay and webhook, in-process against ``bench_service``."""
        os.environ.update(self.service_env)
        from app import create_app

        self.app = create_app()
        for variant in self.args.variant:
            VARIANTS[variant](self.app)
        logging.getLogger().setLevel(logging.WARNING)  # keep the table readable
        counts = hot_path_counts(self.app, self.api_key, self.service_env["STRIPE_WEBHOOK_SECRET"])
        for name, trips in counts.items():
            self.results.round_trips[name] = trips.describe()
            self.results.statements[name] = trips.total_statements

    @staticmethod
    def report(label: str, m: Measured) -> None:
        """One progress line."""
        load = m.load
        print(
            f"  {label}: {load.per_second:.0f}/s p50 {load.p50_ms:.1f} ms p99 {load.p99_ms:.1f} ms, "
            f"{m.cpu_ms_per_request:.2f} CPU ms/req, {load.errors} errors",
            flush=True,
        )

    # --- the run ------------------------------------------------------------------------------

    def run(self, tmp: Path) -> None:
        """Every phase, in order; prints progress, then the table."""
        print(f"bench: logs in {self.procs.log_dir}; load average {os.getloadavg()[0]:.2f}", flush=True)
        self.start_peers()
        service = self.start_service()
        floor_server = self.start_floor()
        naive = self.start_naive()
        self.count_round_trips()
        print("creates (POST /api/v1/payments; floor POST /payments; naive POST /create-checkout-session)")
        self.creates(service, "/api/v1/payments", self.api_key, (16, 64, 256))
        self.creates(floor_server, "/payments", "", (64,))
        self.creates(naive, "/create-checkout-session", "", (64,))
        self.procs.stop(naive.process)
        print("GET /pay/<id>")
        service_ids = [row[0] for row in query(self.service_env["DATABASE_URL"],
                       "SELECT id FROM payments WHERE status = 'open' LIMIT 2000")]  # fmt: skip
        floor_ids = [row[0] for row in query(f"{MYSQL}/{self.args.floor_db}",
                     "SELECT id FROM payments WHERE status = 'open' LIMIT 2000")]  # fmt: skip
        self.pays(service, service_ids, tmp)
        self.pays(floor_server, floor_ids, tmp)
        print("POST /webhooks/stripe (signed, distinct payment_intent.created events)")
        self.webhooks(service, tmp)
        self.webhooks(floor_server, tmp)
        for server in (service, floor_server):
            self.results.rss[server.name] = [rss_mib(pid) for pid in server.workers()]
        self.procs.stop(floor_server.process)
        self.procs.stop(service.process)
        print("merchant webhook deliveries (flask --app wsgi worker)")
        self.deliveries(1)
        self.deliveries(2)
        print_table(self.results, self.args)


def _ratio_row(
    figure: str,
    service: float,
    reference: str,
    ref_value: float,
    target: float | None,
    higher_is_better: bool,
) -> str:
    ratio = service / ref_value if ref_value else 0.0
    if target is None:
        verdict = ""
    else:
        verdict = "PASS" if (ratio >= target if higher_is_better else ratio <= target) else "MISS"
        verdict += f" ({'≥' if higher_is_better else '≤'} {target:g})"
    return f"| {figure} | {service:,.1f} | {reference}: {ref_value:,.1f} | {ratio:.2f} | {verdict} |"


def print_table(r: Results, args: argparse.Namespace) -> None:
    """The figures and the ratios against the references and the issue's targets."""
    lat = args.latency
    print()
    print(
        f"## make bench — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Stripe latency {lat * 1000:.0f} ms, wrk {args.seconds} s per figure; gunicorn.conf.py with "
        f"WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '(default)')}, "
        f"GUNICORN_WORKER_CONNECTIONS={os.environ.get('GUNICORN_WORKER_CONNECTIONS', '(default)')}; "
        f"rate limits in {os.environ.get('RATELIMIT_STORAGE_URI', 'redis://127.0.0.1:6379/0')}; "
        f"what-ifs: {', '.join(args.variant) or 'none'}; load average at the end {os.getloadavg()[0]:.1f}\n"
    )
    print("| figure | value | p50 / p99 ms | CPU ms/req | notes |")
    print("|---|---|---|---|---|")
    for label, m in r.creates.items():
        io_limit = int(label.split("@")[1]) / lat
        print(
            f"| creates/s, {label} connections | {m.load.per_second:,.1f} | {m.load.p50_ms:.0f} / "
            f"{m.load.p99_ms:.0f} | {m.cpu_ms_per_request:.2f} | "
            f"I/O limit {io_limit:,.0f}/s; {m.load.errors} errors |"
        )
    for kind, table in (("/pay req/s", r.pays), ("Stripe webhook events/s", r.webhooks)):
        for label, m in table.items():
            print(
                f"| {kind}, {label} connections | {m.load.per_second:,.1f} | {m.load.p50_ms:.1f} / "
                f"{m.load.p99_ms:.1f} | {m.cpu_ms_per_request:.2f} | {m.load.errors} errors |"
            )
    for workers, d in r.deliveries.items():
        print(
            f"| merchant webhook deliveries/s, {workers} worker(s) | {d.rate:,.1f} | | {d.cpu_ms:.2f} | "
            f"{d.succeeded}/{d.seeded} succeeded, {d.distinct} distinct webhook-ids received |"
        )
    for name, sizes in r.rss.items():
        print(
            f"| resident memory per web worker, {name} | {', '.join(f'{s:.0f}' for s in sizes)} MiB | | | |"
        )
    for name, text in r.round_trips.items():
        print(f"| SQL statements per {name} | {r.statements[name]} | | | {text} |")
    calls = sum(m.stripe_calls for m in r.creates.values())
    cpu = sum(m.standin_cpu_s for m in r.creates.values())
    print(f"| Stripe stand-in CPU per call | {cpu * 1000 / max(calls, 1):.3f} ms | | | {calls} calls |")

    print("\n| target | service | reference | ratio | verdict |")
    print("|---|---|---|---|---|")
    s64, f64, n64 = r.creates["service@64"], r.creates["floor@64"], r.creates["naive@64"]
    pay8, pay64, hooks = r.pays["service@8"], r.pays["service@64"], r.webhooks["service@64"]
    rows: list[tuple[str, float, str, float, float | None, bool]] = [
        ("creates/s at 64 conns", s64.load.per_second, "I/O limit 64 / latency", 64 / lat, 0.8, True),
        ("creates/s at 64 conns", s64.load.per_second, "naive quickstart", n64.load.per_second, 1.0, True),
        ("CPU ms per create", s64.cpu_ms_per_request, "floor", f64.cpu_ms_per_request, 1.5, False),
        (
            "/pay req/s at 8 conns",
            pay8.load.per_second,
            "floor",
            r.pays["floor@8"].load.per_second,
            0.8,
            True,
        ),
        (
            "/pay req/s at 64 conns",
            pay64.load.per_second,
            "floor",
            r.pays["floor@64"].load.per_second,
            None,
            True,
        ),
        ("/pay p99 ms at 8 conns", pay8.load.p99_ms, "target", 10.0, 1.0, False),
        (
            "webhook events/s",
            hooks.load.per_second,
            "floor",
            r.webhooks["floor@64"].load.per_second,
            0.6,
            True,
        ),
        ("deliveries/s, 2 workers", r.deliveries[2].rate, "1 worker", r.deliveries[1].rate, 1.6, True),
    ]
    print("\n".join(_ratio_row(*row) for row in rows))
    once = all(d.succeeded == d.seeded == d.distinct for d in r.deliveries.values())
    print(f"\nEach merchant message delivered exactly once: {'yes' if once else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark, stop everything; 0 on success."""
    parser = argparse.ArgumentParser(description="Benchmark the service against a floor and a naive peer.")
    parser.add_argument("--latency", type=float, default=0.3, help="Stripe stand-in latency, s (default 0.3)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per figure (default 10)")
    parser.add_argument(
        "--deliveries", type=int, default=1000, help="messages per worker round (default 1000)"
    )
    parser.add_argument("--deliveries-timeout", type=float, default=120.0, help="s to wait per round")
    parser.add_argument("--service-db", default=os.environ.get("BENCH_SERVICE_DB", "bench_service"))
    parser.add_argument("--floor-db", default=os.environ.get("BENCH_FLOOR_DB", "bench_floor"))
    parser.add_argument(
        "--variant", choices=sorted(VARIANTS), action="append", default=[], help="a what-if (repeatable)"
    )
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    with Processes(tmp) as procs:
        Bench(args, procs).run(tmp)
    return 0
