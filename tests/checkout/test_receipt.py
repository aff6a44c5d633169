"""The receipt is one a shopper would keep, and it never moves on by itself."""

from __future__ import annotations

import re

import requests

from app.extensions import db
from app.models import Payment
from tests.checkout.support import SUPPORT_EMAIL, pay_by_bank_debit, payment_status
from tests.helpers import wait_for

CARD = {"card_number": "4242424242424242", "exp": "12 / 34", "cvc": "123", "name": "Ada", "method": "card"}


def customer_email(client, merchant, payment):
    return client.get(f"/api/v1/payments/{payment['id']}", headers=merchant.headers).json["customer_email"]


def pay_on_the_hosted_page(payment, email):
    """Pay as a shopper does: the hosted page's form, then Stripe's redirect to our success page."""
    hosted = requests.get(payment["checkout_url"], timeout=10).url
    return requests.post(hosted, data={**CARD, "email": email}, timeout=10)


def test_the_email_typed_on_the_payment_page_is_stored_and_shown(client, shop, create_payment, sandbox_ctl):
    payment = create_payment(shop, customer_email=None)
    receipt = pay_on_the_hosted_page(payment, "typed@example.com")
    assert receipt.status_code == 200 and "Payment received" in receipt.text
    assert (
        client.get(f"/api/v1/payments/{payment['id']}", headers=shop.headers).json["customer_email"]
        == "typed@example.com"
    )
    assert re.search(r"<dt>Email</dt><dd>typed@example.com</dd>", receipt.text)


def test_the_merchants_customer_email_is_kept(client, shop, create_payment, sandbox_ctl):
    payment = create_payment(shop, customer_email="merchant-given@example.com")
    pay_on_the_hosted_page(payment, "typed@example.com")
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "succeeded")
    assert (
        client.get(f"/api/v1/payments/{payment['id']}", headers=shop.headers).json["customer_email"]
        == "merchant-given@example.com"
    )


def test_paid_receipt_has_date_number_support_and_a_return_link_but_no_timed_redirect(
    app, client, shop, create_payment, sandbox_ctl, live_server
):
    payment = create_payment(shop)
    sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "succeeded")
    page = requests.get(payment["checkout_url"], timeout=10)
    assert page.status_code == 200
    html = page.text

    assert "http-equiv" not in html and "<script" not in html  # nothing moves on by itself
    return_link = f"{live_server}/_merchant/thanks?payment_id={payment['id']}&amp;order_id=A-1001"
    assert f'<a class="button" href="{return_link}">Return to Acme Shop</a>' in html

    with app.app_context():
        paid_at = db.session.get_one(Payment, payment["id"]).paid_at
    assert (
        f'<time datetime="{paid_at:%Y-%m-%dT%H:%M:%S}Z">{paid_at.day} {paid_at:%B %Y, %H:%M} UTC</time>'
        in html
    )
    assert f'<dt>Receipt number</dt><dd class="receipt-number">{payment["id"]}</dd>' in html
    assert f'href="mailto:{SUPPORT_EMAIL}?subject=Receipt%20{payment["id"]}"' in html


def test_refunded_receipt_lists_each_refund_and_the_amount_refunded(
    client, shop, create_payment, sandbox_ctl
):
    payment = create_payment(shop)
    sandbox_ctl.pay(payment["stripe_checkout_session_id"])
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "succeeded")
    for amount in (1000, 2000):
        refund = client.post(
            f"/api/v1/payments/{payment['id']}/refunds", json={"amount": amount}, headers=shop.headers
        )
        assert refund.status_code == 201, refund.get_json()
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "refunded")

    html = requests.get(payment["checkout_url"], timeout=10).text
    assert "<h1>Payment refunded</h1>" in html and "The full amount of $30.00 has been refunded" in html
    refunds = html.split("<caption>Refunds</caption>", 1)[1].split("</table>", 1)[0]
    when = r'<td><time datetime="[0-9T:-]+Z">[^<]+</time></td>'
    rows = re.findall(when + r'\s*<td>(\w+)</td>\s*<td class="amount">([^<]+)</td>', refunds)
    assert rows == [("Succeeded", "$10.00"), ("Succeeded", "$20.00")]


def test_a_processing_bank_debit_has_a_receipt_without_redirect(client, shop, create_payment, sandbox_ctl):
    payment = create_payment(shop)
    pay_by_bank_debit(sandbox_ctl, payment, "000123456789")
    wait_for(lambda: payment_status(client, shop, payment["id"]) == "processing")
    html = requests.get(payment["checkout_url"], timeout=10).text
    assert "<h1>Payment processing</h1>" in html and "http-equiv" not in html
    assert "<dt>Date</dt>" in html and "Return to Acme Shop" in html
