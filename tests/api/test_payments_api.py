"""The merchant API: authentication, validation, idempotency, isolation, listing, gateway failures."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import IdempotencyKey, Payment, utcnow
from tests.helpers import gateway_replaced, payment_body

#: Nothing listens on the discard port: the gateway cannot connect.
STRIPE_DOWN = "http://127.0.0.1:9"


def post(client, merchant, body=None, key=None, **kw):
    headers = dict(merchant.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/api/v1/payments", json=payment_body() if body is None else body, headers=headers, **kw
    )


def payment_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Payment))


def sandbox_sessions_for(sandbox_ctl, payment_id):
    import stripe

    client = stripe.StripeClient("sk_test_suite", base_addresses={"api": sandbox_ctl.url})
    sessions = client.v1.checkout.sessions.list(params={"limit": 100})
    return [s for s in sessions.data if s.client_reference_id == payment_id]


def test_created_payment_has_the_documented_shape(client, merchant, sandbox_ctl):
    response = post(client, merchant)
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"].startswith("pay_") and body["object"] == "payment"
    assert body["currency"] == "usd" and body["amount_total"] == 3000 and body["amount_refunded"] == 0
    assert body["line_items"] == [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}]
    assert body["metadata"] == {"cart": "c_77"} and body["customer_email"] == "ada@example.com"
    assert body["stripe_checkout_session_id"].startswith("cs_test_")
    assert body["created_at"].endswith("Z") and body["expires_at"].endswith("Z")
    assert body["paid_at"] is None and body["fulfilled_at"] is None and body["failure"] is None


def test_currency_is_case_insensitive_and_zero_decimal_amounts_are_whole_units(client, merchant, sandbox_ctl):
    body = payment_body(currency="JPY", line_items=[{"name": "Tea", "unit_amount": 500, "quantity": 3}])
    created = post(client, merchant, body).get_json()
    assert created["currency"] == "jpy" and created["amount_total"] == 1500


def test_missing_invalid_and_revoked_keys_are_401(app, client, merchant, sandbox_ctl):
    assert client.post("/api/v1/payments", json=payment_body()).status_code == 401
    bad = client.get("/api/v1/payments", headers={"Authorization": "Bearer mk_nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["type"] == "authentication_error"
    from app.merchants import revoke_api_keys
    from app.models import Merchant

    with app.app_context():
        revoke_api_keys(db.session.get(Merchant, merchant.id))
        db.session.commit()
    assert client.get("/api/v1/payments", headers=merchant.headers).status_code == 401


def test_invalid_body_is_400_naming_the_parameter_and_writes_nothing(app, client, merchant, sandbox_ctl):
    body = payment_body(line_items=[{"name": "T-shirt", "unit_amount": -1, "quantity": 1}])
    response = post(client, merchant, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "line_items[0].unit_amount"
    unknown = post(client, merchant, payment_body(status="succeeded"))
    assert unknown.status_code == 400 and unknown.get_json()["error"]["param"] == "status"
    not_json = client.post("/api/v1/payments", data="nope", headers=merchant.headers)
    assert not_json.status_code == 400
    foreign_url = post(client, merchant, payment_body(success_url="https://evil.example/x"))
    assert foreign_url.status_code == 400 and foreign_url.get_json()["error"]["param"] == "success_url"
    assert payment_count(app) == 0


def test_same_idempotency_key_and_body_replays_the_first_response(app, client, merchant, sandbox_ctl):
    first = post(client, merchant, key="order-A-1001")
    second = post(client, merchant, key="order-A-1001")
    assert first.status_code == second.status_code == 201
    assert first.get_data() == second.get_data()
    assert payment_count(app) == 1
    assert len(sandbox_sessions_for(sandbox_ctl, first.get_json()["id"])) == 1


def test_same_idempotency_key_with_a_different_body_is_422(client, merchant, sandbox_ctl):
    post(client, merchant, key="k1")
    response = post(client, merchant, payment_body(order_id="B-2"), key="k1")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_mismatch"


def test_idempotency_key_still_in_flight_is_409(app, client, merchant, sandbox_ctl):
    import json
    from datetime import timedelta

    from app.api.idempotency import fingerprint

    raw = json.dumps(payment_body()).encode()
    with app.app_context():
        db.session.add(
            IdempotencyKey(
                merchant_id=merchant.id,
                key="busy",
                request_fingerprint=fingerprint("POST", "/api/v1/payments", raw),
                locked_until=utcnow() + timedelta(seconds=30),
            )
        )
        db.session.commit()
    response = client.post(
        "/api/v1/payments",
        data=raw,
        content_type="application/json",
        headers={**merchant.headers, "Idempotency-Key": "busy"},
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "idempotency_key_in_use"


def test_overlong_idempotency_key_is_400(client, merchant, sandbox_ctl):
    response = post(client, merchant, key="k" * 256)
    assert response.status_code == 400 and response.get_json()["error"]["param"] == "Idempotency-Key"


def test_second_live_payment_for_an_order_is_409_with_its_id(client, merchant, sandbox_ctl):
    first = post(client, merchant).get_json()
    response = post(
        client, merchant, payment_body(line_items=[{"name": "Hat", "unit_amount": 900, "quantity": 1}])
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "order_conflict" and error["payment_id"] == first["id"]


def test_gateway_down_is_502_then_the_same_request_completes_with_one_session(
    app, client, merchant, sandbox_ctl
):
    with gateway_replaced(app, api_base=STRIPE_DOWN):
        down = post(client, merchant, key="retry-me")
    assert down.status_code == 502
    assert down.get_json()["error"]["code"] == "gateway_unavailable"
    with app.app_context():
        pending = db.session.scalars(sa.select(Payment)).one()
        assert pending.status == "pending"

    retried = post(client, merchant, key="retry-me")
    assert retried.status_code == 201
    assert retried.get_json()["id"] == pending.id and retried.get_json()["status"] == "open"
    assert len(sandbox_sessions_for(sandbox_ctl, pending.id)) == 1
    # Without a key, a retry of the same request also resumes the pending payment.
    assert payment_count(app) == 1


def test_retry_without_key_resumes_the_pending_payment(app, client, merchant, sandbox_ctl):
    with gateway_replaced(app, api_base=STRIPE_DOWN):
        assert post(client, merchant).status_code == 502
    retried = post(client, merchant)
    assert retried.status_code == 201 and retried.get_json()["status"] == "open"
    assert payment_count(app) == 1


def test_gateway_rejection_is_422_and_the_payment_fails(app, client, merchant, sandbox_ctl):
    with gateway_replaced(app, api_base=sandbox_ctl.url, secret_key="sk_live_refused_by_the_sandbox"):
        response = post(client, merchant)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "gateway_rejected"
    failed = client.get(f"/api/v1/payments/{error['payment_id']}", headers=merchant.headers).get_json()
    assert failed["status"] == "failed" and failed["failure"]["message"]
    # A failed payment frees the order.
    assert post(client, merchant).status_code == 201


def test_another_merchants_payment_is_404_to_read_and_expire(client, merchant, make_merchant, sandbox_ctl):
    payment = post(client, merchant).get_json()
    other = make_merchant(name="Other Shop")
    for response in (
        client.get(f"/api/v1/payments/{payment['id']}", headers=other.headers),
        client.post(f"/api/v1/payments/{payment['id']}/expire", headers=other.headers),
        client.get("/api/v1/payments/pay_doesnotexist", headers=other.headers),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "resource_missing"
    assert client.get("/api/v1/payments", headers=other.headers).get_json()["data"] == []
    assert (
        client.get(f"/api/v1/payments/{payment['id']}", headers=merchant.headers).get_json()["status"]
        == "open"
    )


def test_list_is_newest_first_with_filters_and_cursor(client, merchant, sandbox_ctl):
    ids = [post(client, merchant, payment_body(order_id=f"O-{n}")).get_json()["id"] for n in range(3)]
    page = client.get("/api/v1/payments?limit=2", headers=merchant.headers).get_json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [p["id"] for p in page["data"]] == [ids[2], ids[1]]
    rest = client.get(
        f"/api/v1/payments?limit=2&starting_after={ids[1]}", headers=merchant.headers
    ).get_json()
    assert [p["id"] for p in rest["data"]] == [ids[0]] and rest["has_more"] is False
    by_order = client.get("/api/v1/payments?order_id=O-1", headers=merchant.headers).get_json()
    assert [p["id"] for p in by_order["data"]] == [ids[1]]
    by_status = client.get("/api/v1/payments?status=succeeded", headers=merchant.headers).get_json()
    assert by_status["data"] == []
    assert client.get("/api/v1/payments?limit=0", headers=merchant.headers).status_code == 400
    assert client.get("/api/v1/payments?status=bogus", headers=merchant.headers).status_code == 400
