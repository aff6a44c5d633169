"""A development-only demo storefront: click "Buy", pay in the sandbox, land on "Thank you".

It plays a merchant's server: it creates the payment through the same service the API uses,
for the demo merchant made by ``flask --app wsgi demo setup``, and, like a real merchant, learns
an order's outcome only from the signed notifications that reach its own webhook receiver
(``POST /demo/webhooks``, verified with the ``standardwebhooks`` package): ``payment.succeeded``
(paid), ``payment.failed`` and ``payment.expired``. Its "Thank you" page says "Waiting…" until
one has arrived; a small static script asks ``/demo/orders/<id>`` every few seconds and updates
the status in place (no page reload, no timed redirect). Its signing secret and the outcomes
live in the instance folder (development only).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from uuid import uuid4

import click
import requests
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.cli import AppGroup
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.wrappers import Response

from .db import unit_of_work
from .errors import Conflict, InvalidRequest, NotFound, ServiceError
from .extensions import db
from .merchants import create_merchant, issue_api_key
from .models import Merchant, Payment, WebhookEndpoint
from .notifications.endpoints import create_endpoint, delete_endpoint
from .notifications.settings import current_settings
from .payments.creation import create_payment
from .payments.schemas import parse_payment_create
from .stripe_gateway import stripe_gateways
from .users import create_user, reset_password

DEMO_MERCHANT_NAME = "Demo Coffee Roasters"
DEMO_USER_EMAIL = "demo@coffee.example"
DEMO_SUPPORT_EMAIL = "help@coffee.example"
PRODUCT = {"name": "Ethiopia Yirgacheffe, 250 g", "unit_amount": 1450, "quantity": 1}
#: The store's order status per merchant notification it acts on, and what its page says.
OUTCOMES = {"payment.succeeded": "paid", "payment.failed": "failed", "payment.expired": "expired"}
STATUS_TEXT = {
    "waiting": "Waiting for payment confirmation…",
    "paid": "Paid",
    "failed": "Payment failed. You have not been charged; you can order again from the shop.",
    "expired": "Payment expired. You have not been charged; you can order again from the shop.",
}

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
    payment = create_payment(merchant, order, stripe_gateways().live, public_base_url=base)
    return redirect(payment.checkout_url, code=303)


@bp.get("/thanks")
def thanks() -> str:
    """The merchant's "Thank you" page the shopper lands on after paying."""
    payment = _payment(request.args.get("payment_id", ""))
    status = _order_status(payment.id)
    return render_template("demo/thanks.html", payment=payment, status=status, text=STATUS_TEXT[status])


@bp.get("/orders/<payment_id>")
def order_status(payment_id: str) -> Response:
    """``{"status": "waiting" | "paid" | "failed" | "expired", "text": …}``: what the store
    knows of the order from its notifications (the thank-you page's script asks this)."""
    status = _order_status(_payment(payment_id).id)
    return jsonify(status=status, text=STATUS_TEXT[status])


@bp.post("/webhooks")
def receive_webhook() -> tuple[str, int]:
    """The store's webhook receiver: verify the Standard Webhooks signature, note outcomes.

    400 for a bad or stale signature; 2xx otherwise (also for types the store ignores), so
    that the service stops retrying. Redelivery of a message is harmless (an outcome is a
    file, written again with the same content).
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
    if event["type"] in OUTCOMES:
        outcome = _outcome_file(event["data"]["id"])
        outcome.parent.mkdir(parents=True, exist_ok=True)
        outcome.write_text(OUTCOMES[event["type"]])
    return "ok", 200


@bp.errorhandler(ServiceError)
def error_page(exc: ServiceError) -> tuple[str, int]:
    """The store's own error page (an unknown order, no demo merchant yet)."""
    return render_template("message.html", title="Not found", message=exc.message), exc.status


def _payment(payment_id: str) -> Payment:
    payment = db.session.get(Payment, payment_id) if payment_id else None
    if payment is None:
        raise NotFound("Unknown order.")
    return payment


def _order_status(payment_id: str) -> str:
    """``waiting`` until a notification with an outcome arrived, then that outcome."""
    outcome = _outcome_file(payment_id)
    return outcome.read_text().strip() if outcome.exists() else "waiting"


def _secret_file() -> Path:
    return Path(current_app.instance_path) / "demo_webhook_secret"


def _outcome_file(payment_id: str) -> Path:
    """Where the store notes the outcome a notification told it for ``payment_id``."""
    return Path(current_app.instance_path) / "demo_orders" / Path(payment_id).name


@demo_cli.command("setup")
@click.option("--base-url", default="http://127.0.0.1:5000", help="Where the service listens.")
@click.option(
    "--wait-ready",
    is_flag=True,
    help="First wait (up to 60 s) until BASE_URL/readyz answers 200, as `make run` does.",
)
def setup_command(base_url: str, wait_ready: bool) -> None:
    """Create (or reuse) the demo merchant, issue it a fresh API key, and print one block: the
    URLs, the key, a ready-to-paste curl (a fresh order id on every paste) and how to stop."""
    if wait_ready:
        _wait_until_ready(base_url)
    with unit_of_work():
        merchant, key = _demo_merchant_with_new_key()
    _register_receiver(merchant, f"{base_url}/demo/webhooks")
    with unit_of_work():
        password = _demo_password(merchant)
    click.echo(startup_block(base_url, key, dashboard_password=password))


def _demo_merchant_with_new_key() -> tuple[Merchant, str]:
    """Add the demo merchant (or reuse it) and a fresh API key to the unit of work."""
    merchant = db.session.scalars(sa.select(Merchant).where(Merchant.name == DEMO_MERCHANT_NAME)).first()
    if merchant is None:
        return create_merchant(DEMO_MERCHANT_NAME, ["localhost", "127.0.0.1"], DEMO_SUPPORT_EMAIL)
    merchant.support_email = merchant.support_email or DEMO_SUPPORT_EMAIL
    return merchant, issue_api_key(merchant)


def create_payment_curl(base_url: str, key: str) -> str:
    """A shell command creating a payment for the demo merchant; the order id and the
    idempotency key are made fresh by the shell each time it is pasted."""
    body = json.dumps(
        {
            "order_id": "@ORDER@",
            "currency": "usd",
            "line_items": [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}],
            "success_url": f"{base_url}/demo/thanks",
            "cancel_url": f"{base_url}/demo/",
        }
    ).replace("@ORDER@", "A-'\"$(date +%s)-$RANDOM\"'")
    return (
        f"curl -s {base_url}/api/v1/payments -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -H \"Idempotency-Key: $(date +%s)-$RANDOM\" "
        f"-d '{body}'"
    )


def startup_block(base_url: str, key: str, *, dashboard_password: str) -> str:
    """The block ``make run`` ends with; ``dashboard_password`` is the demo user's (shown once)."""
    rule = "=" * 78
    lines = [
        rule,
        "Ready: hosted checkout (development: SQLite, Stripe sandbox)",
        f"  Demo shop    {base_url}/demo/   (pay with 4242 4242 4242 4242)",
        f"  API          {base_url}/api/v1   (description: {base_url}/api/v1/openapi.json)",
    ]
    lines += [
        f"  Dashboard    {base_url}/dashboard/   sign in as {DEMO_USER_EMAIL} / {dashboard_password}",
        f"  Health       {base_url}/readyz   Metrics {base_url}/metrics",
        f"  Demo API key {key}   (shown once; a new one at every start)",
        "Create a payment (paste as is; every paste is a new order):",
        f"  {create_payment_curl(base_url, key)}",
        "Stop: Ctrl-C (stops the web server, the worker and the sandbox).",
        rule,
    ]
    return "\n".join(lines)


def _wait_until_ready(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"{base_url}/readyz did not answer 200 within {timeout:.0f} s.")
        time.sleep(0.5)


def _demo_password(merchant: Merchant) -> str:
    """Create the demo merchant's admin user, or give it a new password; return the password."""
    try:
        return create_user(merchant.id, DEMO_USER_EMAIL, "admin")[1]
    except Conflict:
        return reset_password(DEMO_USER_EMAIL)


def _register_receiver(merchant: Merchant, url: str) -> None:
    """Register the store's receiver as the demo merchant's only webhook endpoint and keep its
    secret in the instance folder (replacing an earlier registration)."""
    with unit_of_work():
        for old in db.session.scalars(
            sa.select(WebhookEndpoint).where(
                WebhookEndpoint.merchant_id == merchant.id, WebhookEndpoint.status != "deleted"
            )
        ).all():
            delete_endpoint(old)
    try:
        body = {"url": url, "enabled_events": ["*"]}
        with unit_of_work():
            endpoint, secret = create_endpoint(merchant, body, current_settings())
    except InvalidRequest as exc:
        raise click.UsageError(
            f"{exc.message} (set WEBHOOK_ALLOW_PRIVATE_URLS=1 for local development)"
        ) from exc
    _secret_file().write_text(secret)
    _secret_file().chmod(0o600)
    click.echo(f"Demo webhook endpoint {endpoint.id} -> {url}")
