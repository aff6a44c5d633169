"""The floor: the service's three hot paths done by hand, as cheaply as Flask allows.

Same work, no framework of ours: raw SQL over a SQLAlchemy Core pool (pre-ping on, like the
service), the official SDK's ``StripeClient`` over one pooled ``requests`` session for Stripe.

- ``POST /payments``: INSERT the payment, COMMIT, create the Checkout Session (no transaction
  open), UPDATE it with the session, COMMIT; 201 JSON.
- ``GET /pay/<id>``: SELECT the session URL by id; 303 to it (404 if unknown).
- ``POST /webhooks/stripe``: verify ``Stripe-Signature`` on the raw body, INSERT the event id
  (a duplicate is a 200); 200 JSON.

Settings from the environment: ``FLOOR_DATABASE_URL``, ``STRIPE_API_BASE``,
``STRIPE_WEBHOOK_SECRET``. Run with the service's gunicorn settings:
``gunicorn -c gunicorn.conf.py bench.floor:app``. :func:`create_schema` makes its two tables.
"""

from __future__ import annotations

import json
import os
import secrets

import requests
import sqlalchemy as sa
import stripe
from flask import Flask, jsonify, redirect, request
from requests.adapters import HTTPAdapter
from sqlalchemy.exc import IntegrityError

from bench.workload import stripe_line_items

SCHEMA = (
    "CREATE TABLE payments (id VARCHAR(40) PRIMARY KEY, order_id VARCHAR(64) NOT NULL UNIQUE,"
    " status VARCHAR(16) NOT NULL, amount_total BIGINT NOT NULL, currency CHAR(3) NOT NULL,"
    " session_id VARCHAR(255), session_url VARCHAR(2048))",
    "CREATE TABLE stripe_events (id VARCHAR(255) PRIMARY KEY)",
)


def create_schema(url: str) -> None:
    """Create the floor's tables in the (empty) database at ``url``."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.exec_driver_sql(statement)
    engine.dispose()


app = Flask(__name__)
engine = sa.create_engine(os.environ.get("FLOOR_DATABASE_URL", "sqlite://"), pool_pre_ping=True)
_http = requests.Session()
_http.mount("http://", HTTPAdapter(pool_maxsize=32))
client = stripe.StripeClient(
    "sk_test_floor",
    base_addresses={"api": os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")},
    http_client=stripe.RequestsClient(timeout=10, session=_http),
)
WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")


@app.post("/payments")
def create():  # type: ignore[no-untyped-def]
    """INSERT, COMMIT, Stripe create, UPDATE, COMMIT."""
    body = request.get_json()
    payment_id = "pay_" + secrets.token_hex(12)
    amount = sum(item["unit_amount"] * item["quantity"] for item in body["line_items"])
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO payments (id, order_id, status, amount_total, currency)"
                " VALUES (:id, :order_id, 'pending', :amount, :currency)"
            ),
            {"id": payment_id, "order_id": body["order_id"], "amount": amount, "currency": body["currency"]},
        )
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "client_reference_id": payment_id,
            "line_items": stripe_line_items(body),
            "success_url": body["success_url"],
            "cancel_url": body["cancel_url"],
        },
        options={"idempotency_key": f"checkout-session-{payment_id}"},
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE payments SET status = 'open', session_id = :sid, session_url = :url WHERE id = :id"
            ),
            {"sid": session.id, "url": session.url, "id": payment_id},
        )
    return jsonify(id=payment_id, checkout_url=f"{request.host_url}pay/{payment_id}"), 201


@app.get("/pay/<payment_id>")
def pay(payment_id: str):  # type: ignore[no-untyped-def]
    """SELECT by id, 303."""
    with engine.connect() as conn:
        url = conn.execute(
            sa.text("SELECT session_url FROM payments WHERE id = :id"), {"id": payment_id}
        ).scalar()
    if url is None:
        return "Not found", 404
    return redirect(url, code=303)


@app.post("/webhooks/stripe")
def webhook():  # type: ignore[no-untyped-def]
    """Verify the signature on the raw body, INSERT the event id."""
    payload = request.get_data()
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode(), request.headers.get("Stripe-Signature", ""), WEBHOOK_SECRET, tolerance=300
        )
    except stripe.SignatureVerificationError:
        return jsonify(error="signature_invalid"), 400
    event = json.loads(payload)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO stripe_events (id) VALUES (:id)"), {"id": event["id"]})
    except IntegrityError:
        pass  # a redelivery
    return jsonify(received=True)
