"""Command-line tools: ``flask --app wsgi merchants create …`` and friends."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from .errors import InvalidRequest
from .extensions import db
from .merchants import create_merchant
from .models import Merchant
from .notifications import broker
from .notifications.endpoints import create_endpoint
from .notifications.serializers import endpoint_to_dict
from .notifications.worker import Worker, periodic_jobs, status_counts

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
def create_merchant_command(name: str, allowed_domains: tuple[str, ...]) -> None:
    """Create a merchant and print {"merchant_id", "api_key"} as JSON (the key is shown once)."""
    try:
        merchant, key = create_merchant(name, list(allowed_domains))
    except InvalidRequest as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps({"merchant_id": merchant.id, "api_key": key}))


@merchants_cli.command("add-webhook")
@click.argument("merchant_id")
@click.argument("url")
@click.option(
    "--events",
    "events",
    multiple=True,
    help="An event type to send, e.g. payment.succeeded (repeat for several; default: all).",
)
def add_webhook_command(merchant_id: str, url: str, events: tuple[str, ...]) -> None:
    """Register a webhook endpoint for MERCHANT_ID and print it as JSON, with its secret (shown once)."""
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise click.UsageError(f"No such merchant: {merchant_id!r}.")
    try:
        endpoint, secret = create_endpoint(merchant, {"url": url, "enabled_events": list(events) or ["*"]})
    except InvalidRequest as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps(endpoint_to_dict(endpoint, secret=secret)))


@click.group("worker", cls=AppGroup, invoke_without_command=True)
@click.pass_context
@with_appcontext
def worker_cli(ctx: click.Context) -> None:
    """Run the notification worker (webhook delivery and periodic jobs) until SIGTERM."""
    if ctx.invoked_subcommand is None:
        Worker().run(periodic_jobs())


@worker_cli.command("status")
def worker_status_command() -> None:
    """Print the number of messages per status as JSON (pending, retrying, succeeded, failed)."""
    click.echo(json.dumps(status_counts()))


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
    try:
        with subscription:
            click.echo(f"listening on {broker.safe_address(url)} ({exchange}); Ctrl-C stops", err=True)
            while max_count is None or received < max_count:
                message = subscription.get(timeout=1.0)
                if message is None:
                    continue
                event = json.loads(message.body)
                click.echo(json.dumps({"message_id": message.message_id, "key": message.key, "event": event}))
                message.ack()
                received += 1
    except KeyboardInterrupt:
        pass
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

    report = reconcile(older_than=older_than, dry_run=dry_run, progress=progress, events_window=events_window)
    for change in report.changes:
        click.echo(("would change " if dry_run else "changed ") + str(change))
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(report.summary())
    if report.errors:
        sys.exit(1)


def register(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(merchants_cli)
    app.cli.add_command(worker_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(events_cli)
    if app.config["DEMO_STOREFRONT"]:
        from .demo import demo_cli

        app.cli.add_command(demo_cli)
