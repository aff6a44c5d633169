"""A development-only demo storefront: click "Buy", pay in the sandbox, land on "Thank you".

It plays a merchant's server: it creates the payment through the same service the API uses,
for the demo merchant made by ``flask --app wsgi demo setup``.
"""

from __future__ import annotations

import json
from uuid import uuid4

import click
import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for
from flask.cli import AppGroup
from werkzeug.wrappers import Response

from .errors import NotFound
from .extensions import db
from .merchants import create_merchant, issue_api_key
from .models import Merchant, Payment
from .payments.creation import create_payment
from .payments.schemas import parse_payment_create

DEMO_MERCHANT_NAME = "Demo Coffee Roasters"
PRODUCT = {"name": "Ethiopia Yirgacheffe, 250 g", "unit_amount": 1450, "quantity": 1}

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
    return render_template("demo/thanks.html", payment=payment)


@demo_cli.command("setup")
@click.option("--base-url", default="http://127.0.0.1:5000", help="Where the service listens.")
def setup_command(base_url: str) -> None:
    """Create (or reuse) the demo merchant, issue it a fresh API key, and print a ready curl."""
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
    click.echo(f"Demo merchant {merchant.id}, API key (shown once): {key}")
    click.echo(f"Demo storefront: {base_url}/demo/")
    click.echo("Create a payment:")
    click.echo(
        f"  curl -s {base_url}/api/v1/payments -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -H \"Idempotency-Key: $(uuidgen || date +%s%N)\" "
        f"-d '{json.dumps(body)}'"
    )
