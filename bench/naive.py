"""The peer: a checkout integration written the way Stripe's quickstart server writes it.

As in stripe-samples' ``checkout-one-time-payments`` (``server/python/server.py``): the global
``stripe`` module configured once at import (``stripe.api_key``), one
``stripe.checkout.Session.create`` per request inside a ``try``, a 303 to the session's URL,
served by Flask's development server with threads (``flask run``). It stores nothing, so it
does strictly less than the service; it is the throughput a merchant gets by pasting the sample.

Run: ``STRIPE_API_BASE=… flask --app bench.naive run --port 4242 --with-threads``.
"""

import os

import stripe
from flask import Flask, jsonify, redirect, request

from bench.workload import stripe_line_items

stripe.api_key = os.getenv("STRIPE_SECRET_KEY", "sk_test_naive")
stripe.api_base = os.getenv("STRIPE_API_BASE", "https://api.stripe.com")

app = Flask(__name__)


@app.route("/create-checkout-session", methods=["POST"])
def create_checkout_session():  # type: ignore[no-untyped-def]
    """Create a Checkout Session for the posted cart and send the shopper to it."""
    order = request.get_json()
    try:
        checkout_session = stripe.checkout.Session.create(
            line_items=stripe_line_items(order),
            mode="payment",
            success_url=order["success_url"],
            cancel_url=order["cancel_url"],
        )
    except Exception as e:
        return jsonify(error=str(e)), 403
    return redirect(checkout_session.url, code=303)
