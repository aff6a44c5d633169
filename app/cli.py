"""Command-line tools: ``flask --app wsgi merchants create …`` and friends."""

from __future__ import annotations

import json
import signal
import sys
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .config import effective_settings
from .db import unit_of_work
from .errors import InvalidRequest, ServiceError
from .extensions import db
from .merchants import (
    api_key_to_dict,
    create_api_key,
    create_merchant,
    issue_api_key,
    list_api_keys,
    revoke_api_key,
    roll_api_key,
)
from .models import Merchant
from .notifications import broker
from .notifications.endpoints import create_endpoint
from .notifications.outbox import status_counts
from .notifications.serializers import endpoint_to_dict
from .notifications.settings import current_settings
from .notifications.worker import Worker
from .scheduler import job_statuses, periodic_jobs
from .stripe_gateway import stripe_gateways
from .users import ROLES, create_user, disable_user, list_users

merchants_cli = AppGroup("merchants", help="Manage merchants and their API keys.")


@merchants_cli.command("create")
@click.option("--name", required=True, help="The merchant's display name (shown to shoppers).")
@click.option(
    "--allowed-domain",
    "allowed_domains",
    multiple=True,
    required=True,
    help="A host that success_url/cancel_url may point at (repeat for several).",
)
@click.option("--support-email", help="Where shoppers can write with questions; shown on receipts.")
@click.option("--with-test-key", is_flag=True, help="Also make a test-mode key (printed as test_api_key).")
def create_merchant_command(
    name: str, allowed_domains: tuple[str, ...], support_email: str | None, with_test_key: bool
) -> None:
    """Create a merchant and print {"merchant_id", "api_key"} (a live key) as JSON, with
    "test_api_key" too given --with-test-key (keys are shown once)."""
    if with_test_key and stripe_gateways().test is None:
        raise click.UsageError("Test mode is not configured (STRIPE_TEST_SECRET_KEY is unset).")
    shown = {}
    try:
        with unit_of_work():
            merchant, shown["api_key"] = create_merchant(name, list(allowed_domains), support_email)
            if with_test_key:
                shown["test_api_key"] = issue_api_key(merchant, livemode=False)
    except InvalidRequest as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps({"merchant_id": merchant.id, **shown}))


@merchants_cli.command("add-webhook")
@click.argument("merchant_id")
@click.argument("url")
@click.option("--test", is_flag=True, help="Receive test-mode events (made with mk_test_ keys).")
@click.option(
    "--events",
    "events",
    multiple=True,
    help="An event type to send, e.g. payment.succeeded (repeat for several; default: all).",
)
def add_webhook_command(merchant_id: str, url: str, test: bool, events: tuple[str, ...]) -> None:
    """Register a webhook endpoint for MERCHANT_ID and print it as JSON, with its secret (shown once)."""
    merchant = _merchant_or_exit(merchant_id)
    body = {"url": url, "enabled_events": list(events) or ["*"]}
    try:
        with unit_of_work():
            endpoint, secret = create_endpoint(merchant, body, current_settings(), livemode=not test)
    except InvalidRequest as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps(endpoint_to_dict(endpoint, secret=secret)))


@merchants_cli.group("keys")
def keys_cli() -> None:
    """Manage a merchant's API keys (as ``/api/v1/api_keys`` does): create, list, revoke, roll."""


def _merchant_or_exit(merchant_id: str) -> Merchant:
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise click.UsageError(f"No such merchant: {merchant_id!r}.")
    return merchant


@keys_cli.command("create")
@click.argument("merchant_id")
@click.option("--test/--live", default=False, help="A test-mode key (mk_test_…) or a live one (default).")
def keys_create_command(merchant_id: str, test: bool) -> None:
    """Create an API key for MERCHANT_ID and print it as JSON, with its ``secret`` (shown once)."""
    merchant_id = _merchant_or_exit(merchant_id).id
    if test and stripe_gateways().test is None:
        raise click.UsageError("Test mode is not configured (STRIPE_TEST_SECRET_KEY is unset).")
    with unit_of_work():
        key, secret = create_api_key(merchant_id, livemode=not test)
    click.echo(json.dumps(api_key_to_dict(key, secret=secret)))


@keys_cli.command("list")
@click.argument("merchant_id")
def keys_list_command(merchant_id: str) -> None:
    """Print MERCHANT_ID's keys, newest first, one JSON object a line (prefixes only)."""
    for key in list_api_keys(_merchant_or_exit(merchant_id).id):
        click.echo(json.dumps(api_key_to_dict(key)))


@keys_cli.command("revoke")
@click.argument("merchant_id")
@click.argument("key_id")
def keys_revoke_command(merchant_id: str, key_id: str) -> None:
    """Revoke KEY_ID (``key_…``) of MERCHANT_ID at once; print the key as JSON."""
    try:
        with unit_of_work():
            key = revoke_api_key(_merchant_or_exit(merchant_id).id, key_id)
    except ServiceError as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps(api_key_to_dict(key)))


@keys_cli.command("roll")
@click.argument("merchant_id")
@click.argument("key_id")
@click.option(
    "--expires-in",
    type=click.IntRange(min=0, max=7 * 86_400),
    default=0,
    show_default=True,
    help="Seconds the old key keeps working (at most 7 days).",
)
def keys_roll_command(merchant_id: str, key_id: str, expires_in: int) -> None:
    """Replace KEY_ID of MERCHANT_ID with a new key (printed as JSON with its ``secret``, shown
    once); the old key keeps working --expires-in seconds."""
    try:
        with unit_of_work():
            key, secret = roll_api_key(_merchant_or_exit(merchant_id).id, key_id, expires_in)
    except ServiceError as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps(api_key_to_dict(key, secret=secret)))


@click.group("worker", cls=AppGroup, invoke_without_command=True)
@click.pass_context
@with_appcontext
def worker_cli(ctx: click.Context) -> None:
    """Run the notification worker (webhook delivery and periodic jobs) until SIGTERM.

    With ``WORKER_METRICS_BIND`` (``host:port``) set, it also serves its own Prometheus metrics
    there (delivery attempts, job runs), for a worker on a machine without the web process.
    """
    if ctx.invoked_subcommand is None:
        bind = current_app.config["WORKER_METRICS_BIND"]
        if bind:
            from prometheus_client import start_http_server

            host, _, port = bind.rpartition(":")
            start_http_server(int(port), addr=host or "127.0.0.1")
        Worker(settings=current_settings()).run(periodic_jobs())


@worker_cli.command("status")
def worker_status_command() -> None:
    """Print the number of messages per status as JSON (pending, retrying, succeeded, failed)
    and, once any periodic job has run, ``"jobs"``: when each last ran, on which worker, how it
    went (``succeeded``, ``stripe_unreachable``, ``failed``) and its summary or error."""
    status: dict[str, object] = dict(status_counts())
    jobs = job_statuses()
    if jobs:
        status["jobs"] = jobs
    click.echo(json.dumps(status, indent=2 if jobs else None))


config_cli = AppGroup("config", help="Inspect the settings.")


@config_cli.command("show")
def config_show_command() -> None:
    """Print every setting's effective value (environment, then .env, then the default), one per
    line, with secrets masked."""
    width = max(len(name) for name in effective_settings(current_app.config))
    for name, value in effective_settings(current_app.config).items():
        click.echo(f"{name.ljust(width)}  {value}")


events_cli = AppGroup("events", help="Merchant events on the message broker (EVENT_BROKER_URL).")


@events_cli.command("consume")
@click.option("--broker", "url", required=True, help="amqp://user:pass@host:5672/vhost or nats://host:4222")
@click.option(
    "--exchange",
    default=broker.EXCHANGE,
    show_default=True,
    help="The AMQP exchange / NATS subject prefix (stream: its upper-case).",
)
@click.option(
    "--queue",
    default=None,
    help="A durable AMQP queue / JetStream consumer to read from (default: a temporary one, "
    "which sees events published from now on).",
)
@click.option("--max", "max_count", type=click.IntRange(min=1), default=None, help="Stop after N events.")
def consume_command(url: str, exchange: str, queue: str | None, max_count: int | None) -> None:
    """Print each event on the broker as a downstream service receives it, one JSON line
    ({"message_id", "key", "event"}), acknowledging it; stop after --max N or on Ctrl-C.

    A downstream service needs a few lines of kombu (or nats-py; see the README). The message
    id is the event id, the same on every retry, so a repeat can be dropped:

    \b
        queue = Queue("fulfilment", Exchange("payments", "topic", durable=True), "payment.*")
        with Connection(url) as connection, connection.SimpleQueue(queue) as messages:
            while True:
                message = messages.get(block=True)
                if message.properties["message_id"] not in done:
                    handle(json.loads(message.body))
                message.ack()
    """
    try:
        subscription = broker.subscribe(url, exchange=exchange, queue=queue)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker / --exchange") from exc
    received = 0
    stop = threading.Event()
    # Ctrl-C (and SIGTERM) ask the loop to end after the current poll, rather than raising
    # KeyboardInterrupt somewhere inside the broker client; also if SIGINT was inherited ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with subscription:
            click.echo(f"listening on {broker.safe_address(url)} ({exchange}); Ctrl-C stops", err=True)
            while not stop.is_set() and (max_count is None or received < max_count):
                message = subscription.get(timeout=1.0)
                if message is None:
                    continue
                event = json.loads(message.body)
                click.echo(json.dumps({"message_id": message.message_id, "key": message.key, "event": event}))
                message.ack()
                received += 1
    except broker.BrokerError as exc:
        raise click.ClickException(f"broker {broker.safe_address(url)}: {exc}") from exc
    click.echo(f"{received} event(s) received", err=True)


payments_cli = AppGroup("payments", help="Operate on payments: reconciliation with Stripe.")


@payments_cli.command("reconcile")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Check pending/open/processing payments and pending refunds unchanged for this many seconds.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option(
    "--events-window",
    type=click.IntRange(min=0),
    default=30 * 24 * 3600,
    show_default=True,
    help="Read Stripe events created in the last this many seconds (Stripe keeps 30 days).",
)
def reconcile_command(older_than: int, dry_run: bool, events_window: int) -> None:
    """Catch up with Stripe after missed webhooks: process unseen Stripe events, then ask Stripe
    about stale payments and refunds. Prints each change and a summary line; exits 1 if any
    object could not be reconciled."""
    from .payments.reconcile import reconcile

    progress = None
    if sys.stdout.isatty():

        def progress(items, label):  # type: ignore[no-untyped-def]
            return click.progressbar(items, label=label.capitalize(), show_pos=True)

    report = reconcile(
        stripe_gateways(),
        older_than=older_than,
        dry_run=dry_run,
        progress=progress,
        events_window=events_window,
    )
    for change in report.changes:
        click.echo(("would change " if dry_run else "changed ") + str(change))
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(report.summary())
    if report.errors:
        sys.exit(1)


users_cli = AppGroup("users", help="Manage dashboard users (people who sign in at /dashboard/).")


@users_cli.command("create")
@click.option("--merchant", "merchant_id", required=True, help="The merchant id (mer_…) the user belongs to.")
@click.option("--email", required=True, help="The user's email address (their sign-in name).")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead.")
def create_user_command(merchant_id: str, email: str, role: str, password_stdin: bool) -> None:
    """Create a dashboard user and print it as JSON, with a generated one-time password unless
    --password-stdin was given (at least 12 characters)."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        with unit_of_work():
            user, generated = create_user(merchant_id, email, role, password)
    except ServiceError as exc:
        raise click.UsageError(exc.message) from exc
    out = {"user_id": user.id, "merchant_id": user.merchant_id, "email": user.email, "role": user.role}
    if password is None:
        out["password"] = generated
    click.echo(json.dumps(out))


@users_cli.command("list")
@click.option("--merchant", "merchant_id", help="Only this merchant's users.")
def list_users_command(merchant_id: str | None) -> None:
    """Print one line per user: id, merchant, email, role, and "disabled" if so."""
    for user in list_users(merchant_id):
        state = "disabled" if user.disabled_at else "active"
        click.echo(f"{user.id}\t{user.merchant_id}\t{user.email}\t{user.role}\t{state}")


@users_cli.command("disable")
@click.argument("email")
def disable_user_command(email: str) -> None:
    """Disable the user EMAIL: no more sign-ins, and open sessions end at their next request."""
    try:
        with unit_of_work():
            user = disable_user(email)
    except ServiceError as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(f"disabled {user.id} {user.email}")


def register(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(merchants_cli)
    app.cli.add_command(worker_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(config_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(events_cli)
    if app.config["DEMO_STOREFRONT"]:
        from .demo import demo_cli

        app.cli.add_command(demo_cli)
