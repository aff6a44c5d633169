"""Fixtures: a live sandbox on a free port, a real StripeClient, a webhook receiver."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe
from werkzeug.serving import make_server

from sandbox import create_app

WEBHOOK_SECRET = "whsec_test_fixture"


class Sandbox:
    """A running sandbox: its base URL, app and an HTTP session for control calls."""

    def __init__(self, app, url):
        self.app = app
        self.url = url
        self.state = app.sandbox_state
        self.http = requests.Session()

    def control(self, path, **data):
        """POST to a ``/_sandbox`` control endpoint and return the decoded JSON."""
        response = self.http.post(f"{self.url}/_sandbox{path}", data=data, timeout=10)
        response.raise_for_status()
        return response.json()

    def pay(self, session_id, **data):
        """Pay a session through the control endpoint."""
        return self.control(f"/checkout/sessions/{session_id}/pay", **data)


@pytest.fixture
def webhook_secret():
    """The signing secret the test sandboxes use."""
    return WEBHOOK_SECRET


@pytest.fixture
def sandbox_factory():
    """Start sandboxes (with custom create_app kwargs); all are shut down afterwards."""
    running = []

    def start(**kwargs):
        kwargs.setdefault("webhook_secret", WEBHOOK_SECRET)
        kwargs.setdefault("webhook_retry_delays", (0.5, 1.0, 2.0))  # Stripe's schedule, compressed
        app = create_app(public_url="http://sandbox.invalid", **kwargs)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}"
        app.sandbox_state.public_url = url
        app.sandbox_state.start()
        box = Sandbox(app, url)
        running.append((box, server, thread))
        return box

    yield start
    for box, server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()
        box.state.stop()
        box.http.close()


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


class WebhookReceiver:
    """Records webhook POSTs; answers with queued status codes, then 200."""

    def __init__(self):
        self.received = []
        self.statuses = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append({"body": body, "headers": dict(self.headers), "status": status})
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait_for(self, predicate, timeout=10):
        """Wait until ``predicate(received)`` is true; returns the received list."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: predicate(self.received), timeout), self.received
            return list(self.received)

    def events(self):
        """Decoded bodies of the successfully answered deliveries."""
        return [json.loads(r["body"]) for r in self.received if r["status"] < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    """A local HTTP server that records webhook deliveries."""
    webhook_receiver = WebhookReceiver()
    yield webhook_receiver
    webhook_receiver.close()


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
