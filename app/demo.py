"""A development-only demo storefront: click "Buy", pay in the sandbox, land on "Thank you".

It plays a merchant's server: it creates the payment through the same service the API uses,
for the demo merchant made by ``flask --app wsgi demo setup``, and, like a real merchant, shows
an order as paid only once a signed ``payment.succeeded`` notification has reached its own
webhook receiver (``POST /demo/webhooks``, verified with the ``standardwebhooks`` package).
Its signing secret and the receipts live in the instance folder (development only).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from uuid import uuid4

import click
import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.cli import AppGroup
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.wrappers import Response

from .errors import Conflict, InvalidRequest, NotFound
from .extensions import db
from .merchants import create_merchant, issue_api_key
from .models import Merchant, Payment, WebhookEndpoint
from .notifications.endpoints import create_endpoint, delete_endpoint
from .payments.creation import create_payment
from .payments.schemas import parse_payment_create
from .users import create_user, reset_password

DEMO_MERCHANT_NAME = "Demo Coffee Roasters"
DEMO_USER_EMAIL = "demo@coffee.example"
PRODUCT = {"name": "Ethiopia Yirgacheffe, 250 g", "unit_amount": 1450, "quantity": 1}

log = logging.getLogger(__name__)

bp = Blueprint("demo", __name__, url_prefix="/demo")
demo_cli = AppGroup("demo", help="The development demo storefront.")


def demo_merchant() -> Merchant:
    """The demo merchant (404 until ``flask demo setup`` has run)."""
    merchant = db.session.scalars(sa.select(Merchant).where(Merchant.name == DEMO_MERCHANT_NAME)).first()
    if merchant is None:
        raise NotFound("Run `flask --app wsgi demo setup` first.")
    return merchant


@bp.get("/")
def shop() -> str:
    """The storefront: one product and a Buy button."""
    return render_template("demo/shop.html", product=PRODUCT, merchant=demo_merchant())


@bp.post("/buy")
def buy() -> Response:
    """Create a payment for one product and send the shopper to our checkout link."""
    merchant = demo_merchant()
    base = request.host_url.rstrip("/")
    order = parse_payment_create(
        {
            "order_id": f"DEMO-{uuid4().hex[:8].upper()}",
            "currency": "usd",
            "line_items": [PRODUCT],
            "success_url": base + url_for("demo.thanks"),
            "cancel_url": base + url_for("demo.shop"),
        },
        merchant.allowed_domains,
    )
    payment = create_payment(merchant, order, public_base_url=base)
    return redirect(payment.checkout_url, code=303)


@bp.get("/thanks")
def thanks() -> str:
    """The merchant's "Thank you" page the shopper lands on after paying."""
    payment = db.session.get(Payment, request.args.get("payment_id", ""))
    if payment is None:
        raise NotFound("Unknown order.")
    paid = _receipt(payment.id).exists()
    return render_template("demo/thanks.html", payment=payment, paid=paid)


@bp.post("/webhooks")
def receive_webhook() -> tuple[str, int]:
    """The store's webhook receiver: verify the Standard Webhooks signature, note paid orders.

    400 for a bad or stale signature; 2xx otherwise (also for types the store ignores), so
    that the service stops retrying. Redelivery of a message is harmless (a receipt is a file).
    """
    secret_file = _secret_file()
    if not secret_file.exists():
        return "run `flask demo setup` first", 503
    try:
        event = Webhook(secret_file.read_text().strip()).verify(
            request.get_data(as_text=True), dict(request.headers)
        )
    except WebhookVerificationError as exc:
        log.warning("demo webhook rejected: %s", exc)
        return "bad signature", 400
    if event["type"] == "payment.succeeded":
        _receipt(event["data"]["id"]).parent.mkdir(parents=True, exist_ok=True)
        _receipt(event["data"]["id"]).write_text(request.headers["webhook-id"])
    return "ok", 200


def _secret_file() -> Path:
    return Path(current_app.instance_path) / "demo_webhook_secret"


def _receipt(payment_id: str) -> Path:
    """Where the store notes that ``payment.succeeded`` arrived for ``payment_id``."""
    return Path(current_app.instance_path) / "demo_receipts" / Path(payment_id).name


@demo_cli.command("setup")
@click.option("--base-url", default="http://127.0.0.1:5000", help="Where the service listens.")
def setup_command(base_url: str) -> None:
    """Create (or reuse) the demo merchant, issue it a fresh API key, give its dashboard user a
    fresh password, and print them with a ready curl."""
    merchant = db.session.scalars(sa.select(Merchant).where(Merchant.name == DEMO_MERCHANT_NAME)).first()
    if merchant is None:
        merchant, key = create_merchant(DEMO_MERCHANT_NAME, ["localhost", "127.0.0.1"])
    else:
        key = issue_api_key(merchant)
        db.session.commit()
    body = {
        "order_id": "A-1001",
        "currency": "usd",
        "line_items": [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}],
        "success_url": f"{base_url}/demo/thanks",
        "cancel_url": f"{base_url}/demo/",
    }
    _register_receiver(merchant, f"{base_url}/demo/webhooks")
    click.echo(f"Demo merchant {merchant.id}, API key (shown once): {key}")
    password = _demo_password(merchant)
    click.echo(
        f"Dashboard: {base_url}/dashboard/  email {DEMO_USER_EMAIL}  password (shown once): {password}"
    )
    click.echo(f"Demo storefront: {base_url}/demo/")
    click.echo("Create a payment:")
    click.echo(
        f"  curl -s {base_url}/api/v1/payments -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -H \"Idempotency-Key: $(uuidgen || date +%s%N)\" "
        f"-d '{json.dumps(body)}'"
    )


def _demo_password(merchant: Merchant) -> str:
    """Create the demo merchant's admin user, or give it a new password; return the password."""
    try:
        return create_user(merchant.id, DEMO_USER_EMAIL, "admin")[1]
    except Conflict:
        return reset_password(DEMO_USER_EMAIL)


def _register_receiver(merchant: Merchant, url: str) -> None:
    """Register the store's receiver as the demo merchant's only webhook endpoint and keep its
    secret in the instance folder (replacing an earlier registration)."""
    for old in db.session.scalars(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == merchant.id, WebhookEndpoint.status != "deleted"
        )
    ).all():
        delete_endpoint(old)
    try:
        endpoint, secret = create_endpoint(merchant, {"url": url, "enabled_events": ["*"]})
    except InvalidRequest as exc:
        raise click.UsageError(
            f"{exc.message} (set WEBHOOK_ALLOW_PRIVATE_URLS=1 for local development)"
        ) from exc
    _secret_file().write_text(secret)
    _secret_file().chmod(0o600)
    click.echo(f"Demo webhook endpoint {endpoint.id} -> {url}")
