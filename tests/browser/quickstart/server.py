"""A merchant server written the way Stripe's Checkout quickstart writes one.

Global ``stripe`` module, a Price id from the environment, ``stripe.checkout.Session.create`` with
``line_items=[{"price": PRICE, "quantity": ...}]``, a redirect to ``session.url`` and a webhook route
verifying signatures with ``stripe.Webhook.construct_event``. The only line a Stripe sample does not
have is ``stripe.api_base``: the base address of the sandbox.

Environment: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, PRICE, DOMAIN, PORT, STRIPE_API_BASE.
"""

import os

import stripe
from flask import Flask, jsonify, redirect, request

stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
stripe.api_base = os.environ["STRIPE_API_BASE"]  # the one change: talk to the sandbox
price = os.environ["PRICE"]
domain = os.environ["DOMAIN"]

app = Flask(__name__)


@app.get("/")
def index():
    return (
        "<h1>Stubborn Attachments</h1>"
        '<form action="/create-checkout-session" method="POST">'
        '<input type="number" name="quantity" value="1" aria-label="Quantity">'
        '<button type="submit">Checkout</button></form>'
    )


@app.get("/config")
def get_config():
    found = stripe.Price.retrieve(price)
    return jsonify({"unitAmount": found.unit_amount, "currency": found.currency})


@app.post("/create-checkout-session")
def create_checkout_session():
    quantity = int(request.form.get("quantity", 1))
    try:
        checkout_session = stripe.checkout.Session.create(
            success_url=domain + "/success?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=domain + "/canceled",
            mode="payment",
            line_items=[{"price": price, "quantity": quantity}],
        )
    except stripe.StripeError as error:
        return jsonify({"error": {"message": str(error)}}), 400
    return redirect(checkout_session.url, code=303)


@app.get("/success")
def success():
    checkout_session = stripe.checkout.Session.retrieve(request.args["session_id"])
    return f"<h1>Thanks for your order</h1><p>Payment status: {checkout_session.payment_status}</p>"


@app.post("/webhook")
def webhook_received():
    try:
        event = stripe.Webhook.construct_event(
            payload=request.data,
            sig_header=request.headers.get("stripe-signature"),
            secret=os.environ["STRIPE_WEBHOOK_SECRET"],
        )
    except (ValueError, stripe.SignatureVerificationError) as error:
        return jsonify({"error": str(error)}), 400
    if event["type"] == "checkout.session.completed":
        print("🔔 Payment succeeded!", event["data"]["object"]["id"], flush=True)
    return jsonify({"status": "success"})


if __name__ == "__main__":
    app.run(port=int(os.environ["PORT"]))
