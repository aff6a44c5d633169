"""A shopper in a real browser: our link → Stripe's hosted page (the sandbox) → our success page
→ the merchant's success URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import payment_body, wait_for

pytestmark = pytest.mark.browser


def create_payment(client, merchant, live_server, **overrides):
    body = payment_body(
        success_url=f"{live_server}/_merchant/thanks",
        cancel_url=f"{live_server}/_merchant/cart",
        **overrides,
    )
    response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Acme Shop", domains=("127.0.0.1",))


def fill_card(page: Page, number: str) -> None:
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiration").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Cardholder name").fill("Ada Lovelace")


def payment_status(client, merchant, payment_id):
    return client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers).get_json()["status"]


def test_shopper_pays_with_4242_and_lands_on_the_merchants_success_url(
    page, client, merchant, live_server, sandbox_ctl
):
    payment = create_payment(client, merchant, live_server)
    page.goto(payment["checkout_url"])
    expect(page.get_by_text("Acme Shop").first).to_be_visible()
    expect(page.get_by_text("T-shirt").first).to_be_visible()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()

    # Our success page: the receipt, then on to the merchant.
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("$30.00").first).to_be_visible()
    page.get_by_role("link", name="Return to Acme Shop").click()
    page.wait_for_url(re.compile(r"/_merchant/thanks\?payment_id=pay_\w+&order_id=A-1001$"))
    assert payment_status(client, merchant, payment["id"]) == "succeeded"


def test_declined_card_shows_the_error_and_the_payment_stays_open(
    page, client, merchant, live_server, sandbox_ctl
):
    payment = create_payment(client, merchant, live_server)
    page.goto(payment["checkout_url"])
    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("declined")
    assert payment_status(client, merchant, payment["id"]) == "open"

    # The shopper may retry with another card on the same page.
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    wait_for(lambda: payment_status(client, merchant, payment["id"]) == "succeeded")


def test_receipt_takes_the_shopper_to_the_merchant_with_its_button(
    page, client, merchant, live_server, sandbox_ctl
):
    # The receipt used to redirect on its own after 4 s; now the shopper follows its button.
    payment = create_payment(client, merchant, live_server)
    page.goto(payment["checkout_url"])
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.get_by_role("link", name="Return to Acme Shop").click()
    page.wait_for_url(re.compile(r"/_merchant/thanks\?payment_id="), timeout=15_000)
