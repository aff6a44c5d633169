"""In a real browser: the shopper pays with Alipay (or iDEAL) on the wallet's page, or fails there
and pays another way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_shopper_pays import fill_card
from tests.helpers import payment_body, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Acme Shop", domains=("127.0.0.1",))


def create_payment(client, merchant, live_server, **overrides):
    body = payment_body(
        success_url=f"{live_server}/_merchant/thanks", cancel_url=f"{live_server}/_merchant/cart", **overrides
    )
    response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def get_payment(client, merchant, payment_id):
    return client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers).get_json()


def choose_redirect_method(page, payment, label):
    page.goto(payment["checkout_url"])
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name=f"Pay with {label}").click()
    expect(page.get_by_role("heading", name=label)).to_be_visible()  # the wallet's / bank's page


@pytest.mark.parametrize(
    ("method", "label", "currency"), [("alipay", "Alipay", "usd"), ("ideal", "iDEAL", "eur")]
)
def test_shopper_authorizes_the_payment_on_the_wallet_page(
    page, client, merchant, live_server, sandbox_ctl, method, label, currency
):
    payment = create_payment(
        client, merchant, live_server, currency=currency, payment_method_types=["card", method]
    )

    choose_redirect_method(page, payment, label)
    page.get_by_role("button", name="Authorize test payment").click()

    # Back on our success page, paid, naming the method.
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text(f"Paid with {label}")).to_be_visible()
    paid = wait_for(
        lambda: (p := get_payment(client, merchant, payment["id"]))["status"] == "succeeded" and p
    )
    assert paid["payment_method_details"]["type"] == method
    assert paid["fulfilled_at"] is not None


def test_a_failed_alipay_payment_keeps_the_checkout_open_and_the_shopper_pays_by_card(
    page, client, merchant, live_server, sandbox_ctl
):
    payment = create_payment(client, merchant, live_server, payment_method_types=["card", "alipay"])

    choose_redirect_method(page, payment, "Alipay")
    page.get_by_role("button", name="Fail test payment").click()

    # Back on the checkout page with Checkout's message; nothing is paid.
    expect(page.get_by_role("alert")).to_contain_text("unable to authenticate your payment method")
    wait_for(
        lambda: any(
            entry["type"] == "payment.failed_attempt"
            and entry["data"]["code"] == "payment_intent_authentication_failure"
            for entry in client.get(
                f"/api/v1/payments/{payment['id']}/events", headers=merchant.headers
            ).get_json()["data"]
        )
    )
    failed = get_payment(client, merchant, payment["id"])
    assert failed["status"] == "open"
    assert failed["payment_method_details"] is None
    assert failed["failure"]["code"] == "payment_intent_authentication_failure"

    page.get_by_label("Card", exact=True).check()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("Paid with Visa •••• 4242")).to_be_visible()
    paid = wait_for(
        lambda: (p := get_payment(client, merchant, payment["id"]))["status"] == "succeeded" and p
    )
    assert paid["payment_method_details"] == {"type": "card", "card": {"brand": "visa", "last4": "4242"}}
    assert paid["failure"] is None
