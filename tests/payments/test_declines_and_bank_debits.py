"""Issue 3, parts 1 and 2: declined attempts, and bank debits that settle (or fail) later."""

from __future__ import annotations

import requests

from tests.helpers import wait_for


def test_declined_card_then_successful_retry(shop):
    payment = shop.create()
    result = shop.pay(payment, "4000000000000002")
    assert result["error"]["code"] == "card_declined"

    wait_for(lambda: "payment.failed_attempt" in shop.types(payment["id"]))
    declined = shop.get(payment["id"])
    assert declined["status"] == "open"
    assert declined["failure"] == {
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
    attempt = next(e for e in shop.timeline(payment["id"]) if e["type"] == "payment.failed_attempt")
    assert attempt["source"] == "webhook"
    assert attempt["stripe_event_id"].startswith("evt_")
    assert attempt["stripe_object_id"].startswith("pi_")
    assert attempt["data"]["decline_code"] == "generic_decline"

    assert shop.pay(payment)["error"] is None
    done = shop.wait_status(payment["id"], "succeeded")
    assert done["fulfilled_at"] and done["failure"] is None
    shop.flush()
    types = shop.types(payment["id"])
    assert types == [
        "payment.requested",
        "payment.open",
        "payment.failed_attempt",
        "payment.succeeded",
        "payment.fulfilled",
    ]


def test_last_decline_is_the_payment_failure(shop):
    payment = shop.create()
    shop.pay(payment, "4000000000000002")
    shop.pay(payment, "4000000000009995")
    shop.flush()
    assert shop.types(payment["id"]).count("payment.failed_attempt") == 2
    assert shop.get(payment["id"])["failure"] == {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    assert shop.get(payment["id"])["status"] == "open"


def test_declined_payment_that_expires_ends_expired_with_its_failure(shop):
    payment = shop.create(expires_in=1800)
    shop.pay(payment, "4000000000000069")
    shop.sandbox.advance(1801)
    ended = shop.wait_status(payment["id"], "expired")
    assert ended["failure"]["code"] == "expired_card"


def test_bank_debit_settles_later_then_fulfils_once(shop, live_server):
    payment = shop.create()
    assert shop.pay_by_bank(payment)["error"] is None
    processing = shop.wait_status(payment["id"], "processing")
    assert processing["fulfilled_at"] is None and processing["paid_at"] is None

    page = requests.get(payment["checkout_url"], timeout=10)
    assert page.status_code == 200 and "Payment processing" in page.text

    shop.sandbox.advance(6)  # the sandbox settles debits after 5 s of its clock
    done = shop.wait_status(payment["id"], "succeeded")
    assert done["fulfilled_at"]
    shop.flush()
    types = shop.types(payment["id"])
    assert types == [
        "payment.requested",
        "payment.open",
        "payment.processing",
        "payment.succeeded",
        "payment.fulfilled",
    ]


def test_bank_debit_failing_ends_failed_with_its_failure(shop):
    payment = shop.create()
    assert shop.pay_by_bank(payment, "000222222227")["error"] is None
    shop.wait_status(payment["id"], "processing")
    shop.sandbox.advance(6)
    failed = shop.wait_status(payment["id"], "failed")
    assert failed["failure"]["code"] == "insufficient_funds"
    assert "insufficient funds" in failed["failure"]["message"]
    assert failed["fulfilled_at"] is None
    shop.flush()
    types = shop.types(payment["id"])
    assert types.count("payment.failed") == 1
    assert "payment.fulfilled" not in types
    # The order is free again.
    assert shop.create()["status"] == "open"
