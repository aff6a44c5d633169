"""Stripe's error conventions under /api/v1: JSON for unknown URLs and methods, distinct
parameter codes, a ``doc_url`` that resolves, ``Request-Id`` on every answer, and
``Idempotent-Replayed`` on a replay."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.helpers import payment_body


def test_an_unknown_url_under_the_api_is_a_json_404(client, merchant):
    for headers in (merchant.headers, {}):
        response = client.get("/api/v1/paymnets", headers=headers)
        assert response.status_code == 404
        assert response.mimetype == "application/json"
        error = response.get_json()["error"]
        assert error["code"] == "resource_missing" and "/api/v1/paymnets" in error["message"]


def test_a_wrong_method_is_a_json_405_with_allow(client, merchant):
    response = client.put("/api/v1/payments", headers=merchant.headers)
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_pages_outside_the_api_keep_their_own_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_missing_unknown_and_invalid_parameters_have_their_own_codes(client, merchant):
    def error_of(body):
        response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
        assert response.status_code == 400
        error = response.get_json()["error"]
        return error["code"], error["param"]

    without_currency = payment_body()
    del without_currency["currency"]
    assert error_of(without_currency) == ("parameter_missing", "currency")
    assert error_of(payment_body(amount_total=5)) == ("parameter_unknown", "amount_total")
    assert error_of(payment_body(currency=5)) == ("parameter_invalid", "currency")


def test_every_error_has_a_doc_url_that_describes_its_code(app, client, merchant):
    base = app.config["PUBLIC_BASE_URL"] or "http://localhost"
    responses = [
        client.get("/api/v1/payments"),
        client.get("/api/v1/payments/pay_nope", headers=merchant.headers),
        client.get("/api/v1/payments?stauts=open", headers=merchant.headers),
        client.delete("/api/v1/payments", headers=merchant.headers),
    ]
    for response in responses:
        error = response.get_json()["error"]
        assert error["doc_url"] == f"{base}/api/v1/errors/{error['code']}"
        described = client.get(urlsplit(error["doc_url"]).path)
        assert described.status_code == 200
        assert described.get_json()["code"] == error["code"]
        assert described.get_json()["status"] == response.status_code
    assert client.get("/api/v1/errors/no_such_code").status_code == 404


def test_the_doc_url_uses_the_public_base_url(app, client, merchant):
    saved, app.config["PUBLIC_BASE_URL"] = app.config["PUBLIC_BASE_URL"], "https://checkout.example"
    try:
        error = client.get("/api/v1/payments/pay_nope", headers=merchant.headers).get_json()["error"]
    finally:
        app.config["PUBLIC_BASE_URL"] = saved
    assert error["doc_url"] == "https://checkout.example/api/v1/errors/resource_missing"


def test_every_response_has_a_request_id(client, merchant):
    responses = [
        client.get("/api/v1/payments", headers=merchant.headers),
        client.get("/api/v1/payments"),
        client.get("/api/v1/nowhere", headers=merchant.headers),
        client.patch("/api/v1/payments", headers=merchant.headers),
        client.get("/api/v1/openapi.json"),
    ]
    ids = [response.headers.get("Request-Id") for response in responses]
    assert all(ids) and len(set(ids)) == len(ids)
    echoed = client.get("/api/v1/payments", headers={**merchant.headers, "X-Request-Id": "req_abc123"})
    assert echoed.headers["Request-Id"] == "req_abc123"


def test_an_idempotent_replay_says_so(client, merchant, sandbox_ctl):
    headers = {**merchant.headers, "Idempotency-Key": "replay-1"}
    first = client.post("/api/v1/payments", json=payment_body(), headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post("/api/v1/payments", json=payment_body(), headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
