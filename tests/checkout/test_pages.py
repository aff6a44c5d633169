"""The other shopper pages: ended, not found, cancel; and the merchant's support email."""

from __future__ import annotations

import json

import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import Merchant
from tests.checkout.support import pay_by_bank_debit, payment_status
from tests.conftest import MerchantHandle
from tests.helpers import wait_for


def test_failed_page_gives_the_reason_in_its_own_sentence(client, shop, create_payment, sandbox_ctl):
    payment = create_payment(shop)
    pay_by_bank_debit(sandbox_ctl, payment, "000222222227")
    sandbox_ctl.advance(3600)
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "failed")
    page = requests.get(payment["checkout_url"], timeout=10)
    assert page.status_code == 410
    assert "<h1>This payment has failed</h1>" in page.text
    assert "Reason: The customer&#39;s account has insufficient funds to cover this payment.</p>" in page.text
    assert ".." not in page.text.replace("...", "")


def test_unknown_payment_page_explains_and_offers_a_way_on(live_server, sandbox_ctl):
    page = requests.get(f"{live_server}/pay/pay_unknown", timeout=10)
    assert page.status_code == 404
    assert "<h1>Payment not found</h1>" in page.text
    assert "Go back to the shop" in page.text and "If you have already paid" in page.text
    assert '<label for="link">Paste the whole payment link</label>' in page.text


def test_a_pasted_payment_link_opens_its_payment(client, shop, create_payment, live_server, sandbox_ctl):
    payment = create_payment(shop)
    pasted = f"  Your link: {payment['checkout_url']}  "
    found = requests.get(f"{live_server}/pay", params={"link": pasted}, allow_redirects=False, timeout=10)
    assert found.status_code == 303 and found.headers["Location"] == f"/pay/{payment['id']}"


def test_a_pasted_text_without_a_payment_is_an_error_tied_to_the_field(live_server, sandbox_ctl):
    page = requests.get(f"{live_server}/pay", params={"link": "https://shop.example/"}, timeout=10)
    assert page.status_code == 404
    assert 'aria-invalid="true" aria-describedby="link-error"' in page.text
    assert '<p class="field-error" id="link-error">That does not look like a payment link' in page.text


def test_merchants_create_takes_a_support_email(app):
    args = ["merchants", "create", "--name", "Acme", "--allowed-domain", "shop.example"]
    result = app.test_cli_runner().invoke(args=[*args, "--support-email", "help@shop.example"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        merchant = db.session.get_one(Merchant, json.loads(result.output)["merchant_id"])
        assert merchant.support_email == "help@shop.example"


def test_a_bad_support_email_is_refused_and_creates_nothing(app):
    args = ["merchants", "create", "--name", "Acme", "--allowed-domain", "shop.example"]
    result = app.test_cli_runner().invoke(args=[*args, "--support-email", "help at shop"])
    assert result.exit_code == 2 and "support_email must be one email address" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Merchant)) == 0


def test_a_test_mode_payments_pages_say_test_mode(client, shop, create_payment, sandbox_ctl):
    made = client.post("/api/v1/api_keys", json={"livemode": False}, headers=shop.headers).get_json()
    test_shop = MerchantHandle(id=shop.id, api_key=made["secret"])
    shown = {}
    for name, merchant in (("test", test_shop), ("live", shop)):
        payment = create_payment(merchant)
        expired = client.post(f"/api/v1/payments/{payment['id']}/expire", headers=merchant.headers)
        assert expired.status_code == 200
        page = client.get(f"/pay/{payment['id']}")
        assert page.status_code == 410
        shown[name] = "test-mode-badge" in page.get_data(as_text=True)
    assert shown == {"test": True, "live": False}
