"""Fixtures: live sandboxes on free ports (:mod:`tests.support.sandbox`), a real StripeClient; the
webhook receiver is the suite's own ``receiver`` (:mod:`tests.support.receiver`)."""

import pytest
import stripe

from tests.support.sandbox import start_sandbox

WEBHOOK_SECRET = "whsec_test_fixture"


@pytest.fixture
def webhook_secret():
    """The signing secret the test sandboxes use."""
    return WEBHOOK_SECRET


@pytest.fixture
def sandbox_factory():
    """Start sandboxes (:func:`tests.support.sandbox.start_sandbox`, with custom create_app
    kwargs); all are shut down afterwards."""
    running = []

    def start(**kwargs):
        kwargs.setdefault("webhook_secret", WEBHOOK_SECRET)
        kwargs.setdefault("webhook_retry_delays", (0.5, 1.0, 2.0))  # Stripe's schedule, compressed
        running.append(start_sandbox(**kwargs))
        return running[-1]

    yield start
    for box in running:
        box.stop()


@pytest.fixture
def sandbox(sandbox_factory):
    """A sandbox with default settings and no webhook endpoints."""
    return sandbox_factory()


@pytest.fixture
def make_client():
    """Build real StripeClients pointed at a sandbox; their HTTP sessions are closed after."""
    made = []

    def build(box, api_key="sk_test_sandbox"):
        http_client = stripe.RequestsClient()
        made.append(http_client)
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": box.url},
            http_client=http_client,
            max_network_retries=0,
        )

    yield build
    for http_client in made:
        http_client.close()


@pytest.fixture
def client(sandbox, make_client):
    """A StripeClient for the default sandbox."""
    return make_client(sandbox)


def _session_params(**overrides):
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1250,
                    "product_data": {"name": "Tea towel"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 500,
                    "product_data": {"name": "Gift wrap"},
                },
                "quantity": 1,
            },
        ],
        "success_url": "https://shop.example/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cart",
        "client_reference_id": "order_42",
        "customer_email": "ada@example.com",
        "metadata": {"cart": "c_77"},
        "payment_intent_data": {"metadata": {"order": "42"}},
    }
    params.update(overrides)
    return params


@pytest.fixture
def session_params():
    """Build typical Checkout Session create params (2 x $12.50 + $5.00 = $30.00, usd)."""
    return _session_params
