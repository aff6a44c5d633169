"""Command-line tools: ``flask --app wsgi merchants create …`` and friends."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from .errors import InvalidRequest
from .merchants import create_merchant

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


def register(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(merchants_cli)
    if app.config["DEMO_STOREFRONT"]:
        from .demo import demo_cli

        app.cli.add_command(demo_cli)
