"""The webhook endpoints and events API: registration, the SSRF guard, isolation, the CLI."""

from __future__ import annotations

import base64
import functools
import json
import socket

import pytest

from app.notifications import endpoints
from app.payments.states import PaymentStatus
from app.url_guard import check_webhook_url

FAKE_DNS = {"internal.shop.example": "10.1.2.3", "metadata.shop.example": "169.254.169.254"}


def fake_resolve(host, port, **kwargs):
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (FAKE_DNS.get(host, "93.184.215.14"), port))]


@pytest.fixture
def fake_dns(monkeypatch):
    monkeypatch.setattr(
        endpoints, "check_webhook_url", functools.partial(check_webhook_url, resolve=fake_resolve)
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.8/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://internal.shop.example/hooks",
        "https://metadata.shop.example/hooks",
        "http://hooks.shop.example/plain-http",
    ],
)
def test_registration_refuses_urls_that_are_not_public_https(client, merchant, fake_dns, url):
    body = {"url": url, "enabled_events": ["*"]}
    response = client.post("/api/v1/webhook_endpoints", json=body, headers=merchant.headers)
    assert response.status_code == 400
    assert response.json["error"]["param"] == "url"


@pytest.mark.parametrize("host", ["internal.shop.example", "metadata.shop.example"])
def test_the_refusal_does_not_say_what_an_internal_name_resolves_to(client, merchant, fake_dns, host):
    body = {"url": f"https://{host}/hooks", "enabled_events": ["*"]}
    response = client.post("/api/v1/webhook_endpoints", json=body, headers=merchant.headers)
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert "not publicly reachable" in message and FAKE_DNS[host] not in message


def test_a_public_https_endpoint_is_registered_and_its_secret_shown_once(client, merchant, fake_dns):
    body = {
        "url": "https://hooks.shop.example/in",
        "enabled_events": ["payment.succeeded"],
        "description": "x",
    }
    created = client.post("/api/v1/webhook_endpoints", json=body, headers=merchant.headers)
    assert created.status_code == 201
    endpoint = created.json
    assert endpoint["object"] == "webhook_endpoint" and endpoint["id"].startswith("we_")
    assert len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) >= 24
    assert endpoint["enabled_events"] == ["payment.succeeded"] and endpoint["status"] == "enabled"

    shown = client.get(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=merchant.headers).json
    listed = client.get("/api/v1/webhook_endpoints", headers=merchant.headers).json
    assert "secret" not in shown and [e["id"] for e in listed["data"]] == [endpoint["id"]]
    assert "secret" not in listed["data"][0]


@pytest.mark.parametrize(
    "body, param",
    [
        (
            {"url": "https://hooks.shop.example/in", "enabled_events": ["payment.refunded"]},
            "enabled_events[0]",
        ),
        ({"url": "https://hooks.shop.example/in", "enabled_events": []}, "enabled_events"),
        ({"enabled_events": ["*"]}, "url"),
    ],
)
def test_invalid_bodies_name_the_parameter(client, merchant, body, param):
    response = client.post("/api/v1/webhook_endpoints", json=body, headers=merchant.headers)
    assert response.status_code == 400 and response.json["error"]["param"] == param


def test_another_merchants_endpoints_and_events_are_404(
    notify_app, client, make_merchant, receiver, make_payment, transition
):
    alice, bob = make_merchant(name="Alice"), make_merchant(name="Bob")
    body = {"url": receiver.url, "enabled_events": ["*"]}
    endpoint = client.post("/api/v1/webhook_endpoints", json=body, headers=alice.headers).json
    transition(make_payment(alice.id), PaymentStatus.SUCCEEDED)
    (event,) = client.get("/api/v1/events", headers=alice.headers).json["data"]

    for path in (
        f"/api/v1/webhook_endpoints/{endpoint['id']}",
        f"/api/v1/events/{event['id']}",
        f"/api/v1/events/{event['id']}/deliveries",
    ):
        assert client.get(path, headers=bob.headers).status_code == 404
    assert (
        client.delete(f"/api/v1/webhook_endpoints/{endpoint['id']}", headers=bob.headers).status_code == 404
    )
    assert client.get("/api/v1/events", headers=bob.headers).json["data"] == []


def test_events_list_newest_first_with_type_filter_and_pagination(
    notify_app, client, merchant, make_payment, transition
):
    for n in range(3):
        transition(make_payment(merchant.id, f"A-{n}"), PaymentStatus.SUCCEEDED)
    transition(make_payment(merchant.id, "B"), PaymentStatus.EXPIRED)

    page = client.get("/api/v1/events?limit=2", headers=merchant.headers).json
    assert page["has_more"] and [e["type"] for e in page["data"]] == ["payment.expired", "payment.succeeded"]
    rest = client.get(
        f"/api/v1/events?limit=2&starting_after={page['data'][-1]['id']}", headers=merchant.headers
    ).json
    assert not rest["has_more"] and len(rest["data"]) == 2
    only = client.get("/api/v1/events?type=payment.expired", headers=merchant.headers).json["data"]
    assert [e["data"]["order_id"] for e in only] == ["B"]
    bad = client.get("/api/v1/events?type=payment.fulfilled", headers=merchant.headers)
    assert bad.status_code == 400 and bad.json["error"]["param"] == "type"


def test_cli_adds_a_webhook_and_reports_worker_counts(notify_app, merchant, receiver):
    runner = notify_app.test_cli_runner()
    result = runner.invoke(
        args=["merchants", "add-webhook", merchant.id, receiver.url, "--events", "payment.failed"]
    )
    assert result.exit_code == 0, result.output
    endpoint = json.loads(result.output)
    assert endpoint["secret"].startswith("whsec_") and endpoint["enabled_events"] == ["payment.failed"]

    refused = runner.invoke(args=["merchants", "add-webhook", merchant.id, "ftp://x.example/"])
    assert refused.exit_code != 0 and "Invalid url" in refused.output

    status = runner.invoke(args=["worker", "status"])
    assert json.loads(status.output) == {"pending": 0, "retrying": 0, "succeeded": 0, "failed": 0}
