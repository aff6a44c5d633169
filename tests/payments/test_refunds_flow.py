"""Issue 3, part 3: refunds through the API, the real SDK and the sandbox."""

from __future__ import annotations

import threading

import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import Refund
from tests.helpers import wait_for


def test_full_refund_by_default(shop, live_server):
    payment = shop.paid()
    # Stripe's refund webhooks held back a moment, so that Stripe's answer to our own call is what
    # settles the refund (else the two race, and either may win: both paths are correct).
    with shop.sandbox.faults({"webhook": "delay", "event": "*", "delay": 1.0}):
        response = shop.refund(payment["id"], reason="requested_by_customer", metadata={"ticket": "T-9"})
    assert response.status_code == 201, response.get_json()
    refund = response.get_json()
    assert refund["id"].startswith("rf_") and refund["object"] == "refund"
    assert refund["payment_id"] == payment["id"]
    assert (refund["amount"], refund["currency"], refund["reason"]) == (3000, "usd", "requested_by_customer")
    assert refund["status"] == "succeeded" and refund["failure_reason"] is None
    assert refund["stripe_refund_id"].startswith("re_")
    assert refund["metadata"] == {"ticket": "T-9"} and refund["created_at"].endswith("Z")

    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("refunded", 3000)

    stripe_refund = shop.stripe.v1.refunds.retrieve(refund["stripe_refund_id"])
    assert stripe_refund.amount == 3000
    assert stripe_refund.metadata.to_dict() == {"refund_id": refund["id"], "payment_id": payment["id"]}

    assert shop.refunds(payment["id"]) == [refund]
    got = shop.client.get(f"/api/v1/refunds/{refund['id']}", headers=shop.merchant.headers)
    assert got.status_code == 200 and got.get_json() == refund

    shop.flush()  # refund.created and charge.refunded arrive: they change nothing more
    types = shop.types(payment["id"])
    assert types.count("refund.requested") == 1 and types.count("refund.succeeded") == 1
    entry = next(e for e in shop.timeline(payment["id"]) if e["type"] == "refund.succeeded")
    assert entry["refund_id"] == refund["id"] and entry["source"] == "api"
    assert shop.get(payment["id"])["amount_refunded"] == 3000

    page = requests.get(payment["checkout_url"], timeout=10)
    assert "Payment refunded" in page.text and "Refunded in full" in page.text and "−$30.00" in page.text

    again = shop.refund(payment["id"])
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "payment_not_refundable"


def test_partial_refunds_and_over_refund(shop, live_server):
    payment = shop.paid()
    first = shop.refund(payment["id"], amount=1000)
    assert first.status_code == 201 and first.get_json()["status"] == "succeeded"
    assert shop.get(payment["id"])["status"] == "partially_refunded"
    page = requests.get(payment["checkout_url"], timeout=10)
    assert "Payment partially refunded" in page.text and "$10.00 of $30.00" in page.text
    assert "Net paid" in page.text and "$20.00" in page.text

    assert shop.refund(payment["id"], amount=500).status_code == 201
    over = shop.refund(payment["id"], amount=1501)
    assert over.status_code == 409
    error = over.get_json()["error"]
    assert (error["code"], error["param"], error["amount_refundable"]) == (
        "refund_exceeds_amount",
        "amount",
        1500,
    )

    rest = shop.refund(payment["id"])
    assert rest.status_code == 201 and rest.get_json()["amount"] == 1500
    done = shop.get(payment["id"])
    assert (done["status"], done["amount_refunded"]) == ("refunded", 3000)
    assert [r["amount"] for r in shop.refunds(payment["id"])] == [1500, 500, 1000]
    shop.flush()
    assert shop.types(payment["id"]).count("refund.succeeded") == 3
    charge = shop.stripe.v1.charges.retrieve(
        shop.stripe.v1.payment_intents.retrieve(
            shop.stripe.v1.checkout.sessions.retrieve(payment["stripe_checkout_session_id"]).payment_intent
        ).latest_charge
    )
    assert charge.amount_refunded == 3000


def test_only_paid_payments_can_be_refunded(shop):
    payment = shop.create()
    response = shop.refund(payment["id"], amount=100)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "payment_not_refundable"


def test_refund_validation(shop, make_merchant):
    payment = shop.paid()
    for body, param in (
        ({"amount": 0}, "amount"),
        ({"amount": "10"}, "amount"),
        ({"reason": "changed_mind"}, "reason"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"status": "succeeded"}, "status"),
    ):
        response = shop.refund(payment["id"], **body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["param"] == param
    other = make_merchant(name="Other")
    assert (
        shop.client.post(
            f"/api/v1/payments/{payment['id']}/refunds", json={}, headers=other.headers
        ).status_code
        == 404
    )
    assert (
        shop.client.get(f"/api/v1/payments/{payment['id']}/refunds", headers=other.headers).status_code == 404
    )
    assert (
        shop.client.get(f"/api/v1/payments/{payment['id']}/events", headers=other.headers).status_code == 404
    )
    refund = shop.refund(payment["id"], amount=100).get_json()
    assert shop.client.get(f"/api/v1/refunds/{refund['id']}", headers=other.headers).status_code == 404
    assert shop.client.get("/api/v1/refunds/rf_nope", headers=shop.merchant.headers).status_code == 404


def test_refund_idempotency_key_replays(shop):
    payment = shop.paid()
    key = {"Idempotency-Key": "refund-req-1"}
    first = shop.refund(payment["id"], headers=key, amount=700)
    second = shop.refund(payment["id"], headers=key, amount=700)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert len(shop.refunds(payment["id"])) == 1
    mismatch = shop.refund(payment["id"], headers=key, amount=800)
    assert mismatch.status_code == 422


def test_zero_decimal_currency_is_refunded_in_yen(shop):
    payment = shop.paid(currency="jpy", line_items=[{"name": "Tea", "unit_amount": 1500, "quantity": 1}])
    refund = shop.refund(payment["id"], amount=500).get_json()
    assert (refund["amount"], refund["currency"], refund["status"]) == (500, "jpy", "succeeded")
    assert shop.stripe.v1.refunds.retrieve(refund["stripe_refund_id"]).amount == 500
    after = shop.get(payment["id"])
    assert (after["amount_refunded"], after["status"]) == (500, "partially_refunded")


def test_three_decimal_amounts_must_end_in_zero(shop, app):
    payment = shop.paid(currency="kwd", line_items=[{"name": "Tea", "unit_amount": 5000, "quantity": 1}])
    bad = shop.refund(payment["id"], amount=1005)
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "amount"
    assert shop.refund(payment["id"], amount=1010).get_json()["status"] == "succeeded"


def test_concurrent_refunds_never_exceed_the_total(shop, live_server):
    payment = shop.paid()
    results: list[requests.Response] = []
    start = threading.Barrier(6)

    def refund() -> None:
        start.wait()
        results.append(
            requests.post(
                f"{live_server}/api/v1/payments/{payment['id']}/refunds",
                json={"amount": 1000},
                headers=shop.merchant.headers,
                timeout=30,
            )
        )

    threads = [threading.Thread(target=refund) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201, 201, 409, 409, 409], [r.text for r in results]
    conflicts = {r.json()["error"]["code"] for r in results if r.status_code == 409}
    assert conflicts <= {"refund_exceeds_amount", "payment_not_refundable"}
    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("refunded", 3000)
    shop.flush()
    assert shop.types(payment["id"]).count("refund.succeeded") == 3


def test_refund_failing_after_succeeding_moves_the_payment_back(shop):
    payment = shop.paid("4000000000005126")
    refund = shop.refund(payment["id"]).get_json()
    assert refund["status"] in ("succeeded", "failed")

    failed = wait_for(
        lambda: (
            r := shop.client.get(f"/api/v1/refunds/{refund['id']}", headers=shop.merchant.headers).get_json()
        )["status"]
        == "failed"
        and r
    )
    assert failed["failure_reason"] == "expired_or_canceled_card"
    shop.flush()
    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 0)
    types = shop.types(payment["id"])
    assert types.count("refund.failed") == 1
    assert types.count("refund.succeeded") <= 1
    assert types.count("payment.succeeded") == 1 and types.count("payment.fulfilled") == 1

    # The amount is refundable again (to another card, say): the reservation was released.
    retry = shop.refund(payment["id"], amount=1000)
    assert retry.status_code == 201


def test_refund_refused_by_stripe_fails_and_the_dashboard_refund_is_adopted(shop, app):
    payment = shop.paid()
    intent = shop.stripe.v1.checkout.sessions.retrieve(payment["stripe_checkout_session_id"]).payment_intent
    shop.sandbox.webhooks(False)
    dashboard = shop.stripe.v1.refunds.create(params={"payment_intent": intent, "amount": 3000})
    shop.sandbox.webhooks(True)

    refused = shop.refund(payment["id"], amount=100)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "gateway_rejected"
    got = shop.client.get(f"/api/v1/refunds/{error['refund_id']}", headers=shop.merchant.headers).get_json()
    assert (got["status"], got["failure_reason"]) == ("failed", "charge_already_refunded")

    # The dashboard refund's events were never delivered; reconciliation reads them and adopts it.
    runner = app.test_cli_runner()
    result = runner.invoke(args=["payments", "reconcile", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("refunded", 3000)
    with app.app_context():
        adopted = db.session.scalars(sa.select(Refund).where(Refund.stripe_refund_id == dashboard.id)).one()
        assert (adopted.status, adopted.amount, adopted.payment_id) == ("succeeded", 3000, payment["id"])
    entry = next(e for e in shop.timeline(payment["id"]) if e["type"] == "refund.succeeded")
    assert entry["source"] == "reconcile"
