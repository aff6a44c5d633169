"""Bad input is a 400 naming the problem, never a 500 (issue 7, finding 13): JSON nested 999 deep
on every POST endpoint (including those that take no body), and text that is not valid Unicode
(a lone surrogate escape), which only MariaDB refused, with a 500."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Payment, WebhookEndpoint
from tests.helpers import payment_body

DEEP = b"[" * 999 + b"]" * 999


def _post(client, merchant, path, raw, key=None):
    headers = {**merchant.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(path, data=raw, content_type="application/json", headers=headers)


@pytest.fixture
def open_payment(client, merchant, sandbox_ctl):
    response = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers)
    assert response.status_code == 201
    return response.get_json()["id"]


@pytest.fixture
def endpoint_id(app, client, merchant, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_URLS", True)
    response = client.post(
        "/api/v1/webhook_endpoints",
        json={"url": "http://127.0.0.1:9/checkout-hooks", "enabled_events": ["*"]},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


@pytest.mark.parametrize("key", [None, "deep-1"])
def test_deeply_nested_json_is_400_on_endpoints_that_take_a_body(client, merchant, open_payment, key):
    for path in (
        "/api/v1/payments",
        f"/api/v1/payments/{open_payment}/refunds",
        "/api/v1/webhook_endpoints",
    ):
        response = _post(client, merchant, path, DEEP, key)
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        error = response.get_json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "json_too_deep"), path


def test_moderately_deep_json_that_python_parses_is_refused_too(client, merchant):
    nested: object = "x"
    for _ in range(50):
        nested = {"k": nested}
    raw = json.dumps(payment_body(metadata=nested)).encode()
    response = _post(client, merchant, "/api/v1/payments", raw)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "json_too_deep"


def test_endpoints_without_a_body_never_parse_one(app, client, merchant, open_payment):
    expired = _post(client, merchant, f"/api/v1/payments/{open_payment}/expire", DEEP, key="exp-1")
    assert expired.status_code == 200, expired.get_data(as_text=True)
    assert expired.get_json()["status"] == "expired"
    replay = _post(client, merchant, f"/api/v1/payments/{open_payment}/expire", b"{}", key="exp-1")
    assert replay.status_code == 200  # the body plays no part in the request's identity

    events = client.get("/api/v1/events", headers=merchant.headers).get_json()["data"]
    resent = _post(client, merchant, f"/api/v1/events/{events[0]['id']}/resend", DEEP)
    assert resent.status_code == 202, resent.get_data(as_text=True)


def test_rotate_secret_ignores_a_deep_body(client, merchant, endpoint_id):
    response = _post(client, merchant, f"/api/v1/webhook_endpoints/{endpoint_id}/rotate_secret", DEEP)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'"metadata": {"\\ud800": "x"}', "metadata"),
        (b'"metadata": {"cart": "c_\\udfff"}', "metadata.cart"),
        (b'"order_id": "A-\\ud83d"', "order_id"),
    ],
)
def test_lone_surrogates_are_400_naming_the_parameter_and_store_nothing(app, client, merchant, raw, param):
    body = json.dumps(payment_body(metadata={}, order_id="S-1")).encode()
    body = body[:-1] + b", " + raw + b"}"  # later members override the earlier ones
    response = _post(client, merchant, "/api/v1/payments", body)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", param)
    assert "Unicode" in error["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_lone_surrogate_in_a_line_item_name_and_a_refund_and_a_webhook_description(
    app, client, merchant, open_payment
):
    items = b'{"order_id": "S-2", "currency": "usd", "success_url": "https://shop.example/t",'
    items += b' "cancel_url": "https://shop.example/c",'
    items += b' "line_items": [{"name": "T\\udc00", "unit_amount": 100, "quantity": 1}]}'
    response = _post(client, merchant, "/api/v1/payments", items)
    assert (response.status_code, response.get_json()["error"]["param"]) == (400, "line_items[0].name")

    refund = _post(
        client, merchant, f"/api/v1/payments/{open_payment}/refunds", b'{"metadata": {"a": "\\ud800"}}'
    )
    assert (refund.status_code, refund.get_json()["error"]["param"]) == (400, "metadata.a")

    endpoint = _post(
        client,
        merchant,
        "/api/v1/webhook_endpoints",
        b'{"url": "https://hooks.example/x", "enabled_events": ["*"], "description": "\\ud800"}',
    )
    assert (endpoint.status_code, endpoint.get_json()["error"]["param"]) == (400, "description")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_valid_astral_characters_are_accepted(client, merchant, sandbox_ctl):
    raw = json.dumps(payment_body(order_id="E-\U0001f600", metadata={"emoji": "\U0001f600"})).encode()
    response = _post(client, merchant, "/api/v1/payments", raw)  # "\ud83d\ude00": a valid pair
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["metadata"] == {"emoji": "\U0001f600"}


def test_bodies_over_one_mebibyte_are_413(client, merchant):
    raw = json.dumps(payment_body(metadata={"big": "x" * (1024 * 1024)})).encode()
    response = _post(client, merchant, "/api/v1/payments", raw)
    assert response.status_code == 413
    assert response.get_json()["error"]["type"] == "invalid_request_error"
