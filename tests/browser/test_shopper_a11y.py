"""Accessibility: axe-core (vendored, ``tests/browser/vendor``) on every shopper page, on a phone
(390 px) and a desktop (1280 px): no serious or critical violation. The pages: the receipt
(paid, processing, refunded), the ended page (failed, expired), not found (also with its form's
error), the rate-limited page, the sandbox's hosted page (as shown, with a field error, with a
decline, with the bank option), the demo shop and its thank-you page (waiting, paid)."""

# ruff: noqa: F811  (pytest fixtures imported from tests.checkout.support are used as arguments)

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.extensions import limiter
from app.notifications.worker import Worker
from tests.browser.axe import violations
from tests.browser.test_shopper_pays import fill_card
from tests.checkout.support import (  # noqa: F401  (fixtures)
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


@pytest.fixture
def page(axe_page: Page) -> Page:
    """Audits inject axe-core, which our CSP refuses: the CSP-bypassing page of
    ``tests/browser/axe.py``. The pages' own keeping to the CSP is checked by
    ``test_shopper_pages`` with the CSP in force."""
    return axe_page


@pytest.fixture
def payments(client, shop, create_payment, sandbox_ctl):
    """One payment per shopper page state, keyed by what its ``/pay`` link shows."""
    made = {}
    for order, state in enumerate(["paid", "processing", "refunded", "failed", "expired", "hosted"]):
        made[state] = create_payment(shop, order_id=f"A-{order}")
    sandbox_ctl.pay(made["paid"]["stripe_checkout_session_id"])
    sandbox_ctl.pay(made["refunded"]["stripe_checkout_session_id"])
    pay_by_bank_debit(sandbox_ctl, made["failed"], "000222222227")
    wait_for(lambda: payment_status(client, shop, made["refunded"]["id"]) == "succeeded")
    refund_url = f"/api/v1/payments/{made['refunded']['id']}/refunds"
    assert client.post(refund_url, json={"amount": 1000}, headers=shop.headers).status_code == 201
    assert client.post(refund_url, json={}, headers=shop.headers).status_code == 201
    expire_url = f"/api/v1/payments/{made['expired']['id']}/expire"
    assert client.post(expire_url, headers=shop.headers).status_code == 200
    sandbox_ctl.advance(3600)  # the failing debit settles: failed
    wait_for(lambda: payment_status(client, shop, made["failed"]["id"]) == "failed")
    wait_for(lambda: payment_status(client, shop, made["refunded"]["id"]) == "refunded")
    # A debit that stays processing: we stop hearing from Stripe once it is.
    pay_by_bank_debit(sandbox_ctl, made["processing"], "000123456789")
    wait_for(lambda: payment_status(client, shop, made["processing"]["id"]) == "processing")
    sandbox_ctl.webhooks(False)
    yield made
    sandbox_ctl.webhooks(True)


@WIDTHS
def test_every_shopper_page_passes_axe(page: Page, width, payments, live_server, app, monkeypatch):
    page.set_viewport_size({"width": width, "height": 900})
    problems = {}

    def check(name: str, heading: str) -> None:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        problems[name] = violations(page)

    shown = {
        "paid": "Payment received",
        "refunded": "Payment refunded",
        "failed": "This payment has failed",
        "expired": "This payment has expired",
    }
    for state, heading in shown.items():
        page.goto(payments[state]["checkout_url"])
        check(f"receipt or ended: {state}", heading)
    page.goto(payments["processing"]["checkout_url"])
    check("receipt: processing", "Payment processing")

    page.goto(f"{live_server}/pay/pay_nothing")
    check("not found", "Payment not found")
    page.get_by_role("button", name="Open the payment").click()
    expect(page.get_by_label("Paste the whole payment link")).to_have_attribute("aria-invalid", "true")
    problems["not found, form error"] = violations(page)

    page.goto(payments["hosted"]["checkout_url"])
    expect(page.get_by_label("Card number")).to_be_visible()
    problems["hosted page"] = violations(page)
    fill_card(page, "4242 4242 4242 4241")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_label("Card number")).to_be_focused()
    problems["hosted page, field error"] = violations(page)
    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    problems["hosted page, decline"] = violations(page)
    page.get_by_label("US bank account").check()
    expect(page.get_by_role("button", name="Pay with bank account")).to_be_visible()
    problems["hosted page, bank"] = violations(page)

    monkeypatch.setitem(app.config, "RATELIMIT_PAY_PAGE", "1 per minute")
    limiter.reset()
    page.goto(f"{live_server}/pay/pay_nothing")
    page.goto(f"{live_server}/pay/pay_nothing")
    check("rate limited", "Please wait a moment")

    assert problems == {name: [] for name in problems}


@WIDTHS
def test_the_demo_shop_and_its_thank_you_page_pass_axe(page: Page, width, demo_shop, sandbox_ctl):
    page.set_viewport_size({"width": width, "height": 900})
    problems = {}
    page.goto(f"{demo_shop.url}/demo/")
    expect(page.get_by_role("button", name="Buy")).to_be_visible()
    problems["shop"] = violations(page)
    page.get_by_role("button", name="Buy").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("US bank account").check()
    page.get_by_label("Routing number").fill("110000000")
    page.get_by_label("Account number").fill("000123456789")
    page.get_by_role("button", name="Pay with bank account").click()
    page.get_by_role("link", name="Return to Demo Coffee Roasters").click()
    expect(page.get_by_role("status")).to_have_text("Waiting for payment confirmation…")
    problems["thank you, waiting"] = violations(page)

    sandbox_ctl.advance(3600)
    with demo_shop.app.app_context():

        def paid() -> bool:
            Worker(name="demo").run_once()
            page.reload()
            return page.get_by_role("status").inner_text() == "Paid"

        wait_for(paid, timeout=15)
    problems["thank you, paid"] = violations(page)
    assert problems == {name: [] for name in problems}
