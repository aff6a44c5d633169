"""Shopper pages in a real browser, on a phone (390 px) and a desktop (1280 px): the receipt
waits for the shopper, cancel says which payment, the hosted page's errors sit on their fields,
the not-found page leads on, the demo shop's thank-you page learns a failure."""

# ruff: noqa: F811  (pytest fixtures imported from tests.checkout.support are used as arguments)

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, expect

from app.notifications.worker import Worker
from tests.browser.test_shopper_pays import fill_card
from tests.checkout.support import (  # noqa: F401  (fixtures)
    SUPPORT_EMAIL,
    create_payment,
    demo_shop,
    fresh_rate_limits,
    pay_by_bank_debit,
    payment_status,
    shop,
)
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_rate_limits")]
WIDTHS = pytest.mark.parametrize("width", [390, 1280])


@pytest.fixture(autouse=True)
def _keeps_to_the_csp(page: Page) -> Iterator[None]:
    """Every page these tests visit keeps to our Content-Security-Policy (and the sandbox's
    page has none): the browser reports no blocked script, style or request."""
    blocked: list[str] = []
    page.on(
        "console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text)
    )
    yield
    assert blocked == []


def sized(page: Page, width: int) -> Page:
    page.set_viewport_size({"width": width, "height": 844})
    return page


@WIDTHS
def test_receipt_shows_what_a_receipt_has_and_waits_for_the_shopper(
    page, width, client, shop, create_payment, sandbox_ctl
):
    payment = create_payment(shop, customer_email=None)
    sized(page, width).goto(payment["checkout_url"])
    fill_card(page, "4242 4242 4242 4242")  # types ada@example.com as the email
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    receipt_url = page.url
    time = page.locator("time")
    expect(time).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"))
    expect(time).to_have_text(re.compile(r"^\d{1,2} \w+ \d{4}, \d\d:\d\d UTC$"))
    expect(page.get_by_text(payment["id"])).to_be_visible()
    expect(page.get_by_text("ada@example.com")).to_be_visible()
    expect(page.get_by_role("link", name=SUPPORT_EMAIL)).to_be_visible()
    back = page.get_by_role("link", name="Return to Acme Shop")
    expect(back).to_be_in_viewport() if width == 1280 else expect(back).to_be_visible()

    page.wait_for_timeout(5_000)  # the old receipt left for the shop after 4 s
    assert page.url == receipt_url
    back.click()
    page.wait_for_url(re.compile(r"/_merchant/thanks\?payment_id=pay_\w+&order_id=A-1001$"))


@WIDTHS
def test_refunded_receipt_lists_the_refund(page, width, client, shop, create_payment, sandbox_ctl):
    payment = create_payment(shop)
    sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "succeeded")
    refund = client.post(
        f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}, headers=shop.headers
    )
    assert refund.status_code == 201
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "partially_refunded")

    sized(page, width).goto(payment["checkout_url"])
    refunds = page.get_by_role("table", name="Refunds")
    expect(refunds.get_by_role("row")).to_have_count(2)  # header and the refund
    expect(refunds.get_by_role("row").nth(1)).to_contain_text("Succeeded")
    expect(refunds.get_by_role("row").nth(1)).to_contain_text("$10.00")
    expect(page.get_by_role("row", name=re.compile("Net paid"))).to_contain_text("$20.00")


@WIDTHS
def test_back_on_the_hosted_page_returns_to_cancel_url_with_the_payment(
    page, width, shop, create_payment, sandbox_ctl
):
    payment = create_payment(shop)
    sized(page, width).goto(payment["checkout_url"])
    page.get_by_role("link", name="← Back").click()
    page.wait_for_url(re.compile(rf"/_merchant/cart\?payment_id={payment['id']}&order_id=A-1001$"))


@WIDTHS
def test_hosted_page_ties_each_error_to_its_field_and_focuses_it(
    page, width, client, shop, create_payment, sandbox_ctl
):
    payment = create_payment(shop)
    sized(page, width).goto(payment["checkout_url"])
    fill_card(page, "4242 4242 4242 4241")
    page.get_by_role("button", name="Pay", exact=True).click()

    number = page.get_by_label("Card number")
    expect(number).to_be_focused()
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_accessible_description("Your card number is incorrect.")
    expect(page.get_by_label("Email")).not_to_have_attribute("aria-invalid", "true")

    page.get_by_label("Email").fill("ada")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_label("Email")).to_be_focused()
    expect(page.get_by_label("Email")).to_have_accessible_description("Your email address is incomplete.")
    assert payment_status(client, shop, payment["id"]) == "open"


@WIDTHS
def test_expiry_typed_as_digits_is_formatted_and_accepted(
    page, width, client, shop, create_payment, sandbox_ctl
):
    payment = create_payment(shop)
    sized(page, width).goto(payment["checkout_url"])
    fill_card(page, "4242 4242 4242 4242")
    expiry = page.get_by_label("Expiration")
    expiry.fill("")
    expiry.press_sequentially("1234")
    expect(expiry).to_have_value("12 / 34")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()


@WIDTHS
def test_bank_option_is_in_a_labelled_group_and_shows_the_debit_authorization(
    page, width, shop, create_payment, sandbox_ctl
):
    payment = create_payment(shop)
    sized(page, width).goto(payment["checkout_url"])
    group = page.get_by_role("group", name="Payment method")
    expect(group.get_by_role("radio")).to_have_count(2)
    mandate = page.get_by_text(re.compile("you authorize Acme Shop"))
    expect(mandate).to_be_hidden()  # card is chosen
    group.get_by_label("US bank account").check()
    expect(mandate).to_be_visible()
    expect(mandate).to_contain_text("once by ACH for $30.00")
    expect(mandate).to_contain_text("revoke this authorization by contacting Acme Shop")
    expect(page.get_by_role("button", name="Pay with bank account")).to_have_accessible_description(
        re.compile("^By selecting")
    )


@WIDTHS
def test_not_found_page_leads_on_to_the_payment(page, width, shop, create_payment, live_server, sandbox_ctl):
    payment = create_payment(shop)
    sized(page, width).goto(f"{live_server}/pay/{payment['id'][:-3]}")  # a link cut short
    expect(page.get_by_role("heading", name="Payment not found")).to_be_visible()
    page.get_by_label("Paste the whole payment link").fill(payment["checkout_url"])
    page.get_by_role("button", name="Open the payment").click()
    expect(page.get_by_label("Card number")).to_be_visible()  # on the hosted page


@WIDTHS
def test_demo_thank_you_page_says_when_the_payment_failed(page, width, demo_shop, sandbox_ctl):
    sized(page, width).goto(f"{demo_shop.url}/demo/")
    page.get_by_role("button", name="Buy").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("US bank account").check()
    page.get_by_label("Routing number").fill("110000000")
    page.get_by_label("Account number").fill("000222222227")  # this debit fails when it settles
    page.get_by_role("button", name="Pay with bank account").click()
    expect(page.get_by_role("heading", name="Payment processing")).to_be_visible()
    page.get_by_role("link", name="Return to Demo Coffee Roasters").click()
    status = page.get_by_role("status")
    expect(status).to_have_text("Waiting for payment confirmation…")

    sandbox_ctl.advance(3600)  # the bank refuses the debit: payment.failed for the shop
    payment_id = re.search(r"payment_id=(pay_\w+)", page.url).group(1)
    with demo_shop.app.app_context():  # the worker delivers the shop's notifications

        def delivered() -> bool:
            Worker(name="demo").run_once()
            return _outcome(demo_shop, payment_id) == "failed"

        wait_for(delivered)
    expect(status).to_contain_text("Payment failed", timeout=10_000)  # updated in place
    expect(page.get_by_role("heading", level=1)).to_have_text("Your order was not paid")


def _outcome(demo_shop, payment_id):
    return requests.get(f"{demo_shop.url}/demo/orders/{payment_id}", timeout=5).json()["status"]
