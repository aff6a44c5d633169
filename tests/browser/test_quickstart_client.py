"""Stripe's quickstart, unchanged but for the base address, runs against the sandbox with a real
browser payment: Price retrieve, Checkout Session from a Price id, hosted page, success page, and a
signed ``checkout.session.completed`` webhook verified with ``stripe.Webhook.construct_event``.

It lives with the browser tests to share their one Playwright/Chromium. The quickstart server runs
in its own process (it sets the global ``stripe.api_base``, which must
not leak into the service's gateway in this process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import stripe
from playwright.sync_api import expect

from tests.support.sandbox import start_sandbox
from tests.support.servers import free_port

pytestmark = pytest.mark.browser
SERVER = Path(__file__).parent / "quickstart" / "server.py"
SECRET = "whsec_quickstart"


@pytest.fixture
def quickstart() -> Iterator[dict[str, object]]:
    """A sandbox, a Price on it, and the quickstart server (a subprocess) using both."""
    port = free_port()
    domain = f"http://127.0.0.1:{port}"
    box = start_sandbox(webhook_secret=SECRET)
    http_client = stripe.RequestsClient()
    client = stripe.StripeClient("sk_test_merchant", base_addresses={"api": box.url}, http_client=http_client)
    price = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 2000, "product_data": {"name": "Stubborn Attachments"}}
    )
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": "sk_test_merchant",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_API_BASE": box.url,
        "PRICE": price.id,
        "DOMAIN": domain,
        "PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for _ in range(100):
            try:
                requests.get(domain, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        box.state.webhooks.add_url(f"{domain}/webhook")  # the merchant's endpoint, now it is up
        yield {"domain": domain, "price": price, "sandbox": box, "process": process}
    finally:
        process.terminate()
        process.communicate(timeout=5)
        http_client.close()
        box.stop()


def test_quickstart_client_pays_through_the_sandbox(quickstart, page):
    domain = quickstart["domain"]
    assert requests.get(f"{domain}/config", timeout=5).json() == {"unitAmount": 2000, "currency": "usd"}

    page.goto(str(domain))
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_text("Stubborn Attachments").first).to_be_visible()
    expect(page.get_by_text("$40.00").first).to_be_visible()
    page.get_by_label("Email").fill("jenny@example.com")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiration").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Cardholder name").fill("Jenny Rosen")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Thanks for your order")).to_be_visible()
    expect(page.get_by_text("Payment status: paid")).to_be_visible()

    state = quickstart["sandbox"].state
    assert state.webhooks.flush(10)
    completed = [e for e in state.events.values() if e["type"] == "checkout.session.completed"]
    assert len(completed) == 1 and completed[0]["pending_webhooks"] == 0  # answered 2xx: signature verified
    session = completed[0]["data"]["object"]
    assert (session["amount_total"], session["customer_details"]["email"]) == (4000, "jenny@example.com")
    process = quickstart["process"]
    process.terminate()
    out, _ = process.communicate(timeout=5)
    assert f"🔔 Payment succeeded! {session['id']}" in out
