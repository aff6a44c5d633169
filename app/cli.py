"""Command-line tools: ``flask --app wsgi merchants create …`` and friends."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from .errors import InvalidRequest, ServiceError
from .extensions import db
from .merchants import create_merchant
from .models import Merchant
from .notifications.endpoints import create_endpoint
from .notifications.serializers import endpoint_to_dict
from .notifications.worker import Worker, periodic_jobs, status_counts
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
        user = disable_user(email)
    except ServiceError as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(f"disabled {user.id} {user.email}")


def register(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(merchants_cli)
    app.cli.add_command(worker_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(users_cli)
    if app.config["DEMO_STOREFRONT"]:
        from .demo import demo_cli

        app.cli.add_command(demo_cli)
