"""Updating objects as Stripe does: a payment's metadata (merged, ``""`` unsets a key) and a
webhook endpoint's url, events, description and disabled flag (the secret unchanged)."""

from __future__ import annotations

import functools
import socket

import pytest

from app.notifications import endpoints
from app.notifications.settings import NotificationSettings
from app.url_guard import check_webhook_url
from tests.helpers import payment_body


@pytest.fixture
def payment(client, merchant, sandbox_ctl) -> dict:
    body = payment_body(metadata={"cart": "c_77", "channel": "web"})
    response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
    assert response.status_code == 201
    return response.get_json()


def update_payment(client, merchant, payment_id, body, **headers):
    return client.post(f"/api/v1/payments/{payment_id}", json=body, headers={**merchant.headers, **headers})


def test_metadata_keys_are_merged_and_an_empty_string_unsets_one(client, merchant, payment):
    response = update_payment(client, merchant, payment["id"], {"metadata": {"channel": "", "gift": "yes"}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["metadata"] == {"cart": "c_77", "gift": "yes"}
    shown = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant.headers).get_json()
    assert shown["metadata"] == {"cart": "c_77", "gift": "yes"}
    assert shown["status"] == payment["status"] and shown["amount_total"] == payment["amount_total"]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"metadata": {f"k{n}": "v" for n in range(49)}}, "parameter_invalid", "metadata"),
        ({"metadata": {"bad[key]": "v"}}, "parameter_invalid", "metadata"),
        ({"metadata": {"cart": "x" * 501}}, "parameter_invalid", "metadata.cart"),
        ({"metadata": {"cart": 5}}, "parameter_invalid", "metadata.cart"),
        ({"status": "succeeded"}, "parameter_unknown", "status"),
        ({"amount_total": 1}, "parameter_unknown", "amount_total"),
    ],
)
def test_a_bad_update_is_a_400_and_changes_nothing(client, merchant, payment, body, code, param):
    response = update_payment(client, merchant, payment["id"], body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    shown = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant.headers).get_json()
    assert shown == payment


def test_another_merchants_payment_cannot_be_updated(client, make_merchant, payment):
    other = make_merchant("Other")
    response = update_payment(client, other, payment["id"], {"metadata": {"x": "y"}})
    assert response.status_code == 404


def test_an_update_replays_under_its_idempotency_key(client, merchant, payment):
    first = update_payment(
        client, merchant, payment["id"], {"metadata": {"n": "1"}}, **{"Idempotency-Key": "u1"}
    )
    again = update_payment(
        client, merchant, payment["id"], {"metadata": {"n": "1"}}, **{"Idempotency-Key": "u1"}
    )
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == first.get_data()


def public_dns(host, port, **kwargs):
    address = "10.9.9.9" if host.startswith("internal.") else "93.184.215.14"
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.fixture
def endpoint(client, merchant, monkeypatch) -> dict:
    monkeypatch.setattr(
        endpoints, "check_webhook_url", functools.partial(check_webhook_url, resolve=public_dns)
    )
    body = {"url": "https://hooks.shop.example/in", "enabled_events": ["payment.succeeded"]}
    response = client.post("/api/v1/webhook_endpoints", json=body, headers=merchant.headers)
    assert response.status_code == 201
    return response.get_json()


def update_endpoint(client, merchant, endpoint_id, body):
    return client.post(f"/api/v1/webhook_endpoints/{endpoint_id}", json=body, headers=merchant.headers)


def test_an_endpoint_update_changes_what_it_names_and_keeps_the_secret(app, client, merchant, endpoint):
    body = {"url": "https://hooks.shop.example/v2", "enabled_events": ["*"], "description": "orders"}
    response = update_endpoint(client, merchant, endpoint["id"], body)
    assert response.status_code == 200, response.get_data(as_text=True)
    updated = response.get_json()
    assert (updated["url"], updated["enabled_events"], updated["description"]) == (
        "https://hooks.shop.example/v2",
        ["*"],
        "orders",
    )
    assert "secret" not in updated and updated["status"] == "enabled"
    with app.app_context():
        from app.extensions import db
        from app.models import WebhookEndpoint

        stored = db.session.get(WebhookEndpoint, endpoint["id"])
        settings = NotificationSettings.from_config(app.config)
        assert endpoints.current_secret(stored, settings) == endpoint["secret"]
    cleared = update_endpoint(client, merchant, endpoint["id"], {"description": None}).get_json()
    assert cleared["description"] is None and cleared["url"] == "https://hooks.shop.example/v2"


def test_disabled_true_stops_deliveries_and_false_resumes_them(client, merchant, endpoint):
    disabled = update_endpoint(client, merchant, endpoint["id"], {"disabled": True}).get_json()
    assert disabled["status"] == "disabled" and disabled["disabled_reason"] == "Disabled through the API."
    enabled = update_endpoint(client, merchant, endpoint["id"], {"disabled": False}).get_json()
    assert enabled["status"] == "enabled" and enabled["disabled_reason"] is None


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"url": "https://internal.shop.example/hooks"}, "parameter_invalid", "url"),
        ({"url": "https://127.0.0.1/hooks"}, "parameter_invalid", "url"),
        ({"url": None}, "parameter_invalid", "url"),
        ({"enabled_events": []}, "parameter_invalid", "enabled_events"),
        ({"enabled_events": ["payment.exploded"]}, "parameter_invalid", "enabled_events[0]"),
        ({"disabled": "yes"}, "parameter_invalid", "disabled"),
        ({"secret": "whsec_mine"}, "parameter_unknown", "secret"),
    ],
)
def test_a_bad_endpoint_update_is_a_400_and_changes_nothing(client, merchant, endpoint, body, code, param):
    response = update_endpoint(client, merchant, endpoint["id"], body)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    shown = client.get(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=merchant.headers).get_json()
    assert shown == {k: v for k, v in endpoint.items() if k != "secret"}


def test_a_deleted_or_foreign_endpoint_is_a_404(client, merchant, make_merchant, endpoint):
    other = make_merchant("Other")
    assert update_endpoint(client, other, endpoint["id"], {"disabled": True}).status_code == 404
    client.delete(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=merchant.headers)
    assert update_endpoint(client, merchant, endpoint["id"], {"disabled": False}).status_code == 404
