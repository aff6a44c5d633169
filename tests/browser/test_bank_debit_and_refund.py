"""In a real browser: a bank debit that settles later, and a refund visible on the receipt."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import payment_body, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Acme Shop", domains=("127.0.0.1",))


def create_payment(client, merchant, live_server):
    body = payment_body(
        success_url=f"{live_server}/_merchant/thanks", cancel_url=f"{live_server}/_merchant/cart"
    )
    response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def payment_status(client, merchant, payment_id):
    return client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers).get_json()["status"]


@pytest.mark.parametrize(
    ("account_number", "final_status", "heading"),
    [
        ("000123456789", "succeeded", "Payment received"),
        ("000222222227", "failed", "This payment has failed"),
    ],
)
def test_bank_debit_is_processing_then_settles(
    page, client, merchant, live_server, sandbox_ctl, account_number, final_status, heading
):
    payment = create_payment(client, merchant, live_server)
    page.goto(payment["checkout_url"])
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("US bank account").check()
    page.get_by_label("Account holder name").fill("Ada Lovelace")
    page.get_by_label("Routing number").fill("110000000")
    page.get_by_label("Account number").fill(account_number)
    page.get_by_role("button", name="Pay with bank account").click()

    # Back on our success page: the debit has not settled, so nothing is fulfilled yet.
    expect(page.get_by_role("heading", name="Payment processing")).to_be_visible()
    assert payment_status(client, merchant, payment["id"]) == "processing"

    sandbox_ctl.advance(3600)  # the bank settles
    wait_for(lambda: payment_status(client, merchant, payment["id"]) == final_status)
    page.goto(payment["checkout_url"])
    expect(page.get_by_role("heading", name=heading)).to_be_visible()


def test_refund_is_visible_on_the_receipt(page, client, merchant, live_server, sandbox_ctl):
    payment = create_payment(client, merchant, live_server)
    sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    wait_for(lambda: payment_status(client, merchant, payment["id"]) == "succeeded")
    refund = client.post(
        f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}, headers=merchant.headers
    )
    assert refund.status_code == 201, refund.get_json()
    wait_for(lambda: payment_status(client, merchant, payment["id"]) == "partially_refunded")

    page.goto(payment["checkout_url"])
    expect(page.get_by_text("Refunded", exact=False).first).to_be_visible()
    expect(page.get_by_text("$10.00").first).to_be_visible()
    expect(page.get_by_text("partially refunded").first).to_be_visible()
