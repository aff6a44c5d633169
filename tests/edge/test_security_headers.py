"""Security headers on every surface (issue 7, finding 14): API answers, shopper pages (receipts
included), Stripe webhook answers, errors and 429s."""

from __future__ import annotations

import pytest

from app import create_app
from tests.helpers import payment_body


def assert_secure(response, *, cacheable=False):
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp  # our static scripts only
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers  # testing is not production
    if not cacheable:
        assert headers["Cache-Control"] == "no-store"


def test_api_answers_carry_security_headers_and_are_not_cached(client, merchant):
    assert_secure(client.get("/api/v1/payments", headers=merchant.headers))
    assert_secure(client.get("/api/v1/payments/pay_missing", headers=merchant.headers))  # 404
    assert_secure(client.get("/api/v1/payments"))  # 401
    assert_secure(client.post("/api/v1/payments", json={}, headers=merchant.headers))  # 400
    assert_secure(client.get("/api/v1/openapi.json"))


def test_shopper_pages_and_receipts_carry_security_headers(client, merchant, sandbox_ctl):
    created = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    assert_secure(client.get(f"/pay/{created['id']}"))  # 303 to Stripe
    session_id = created["stripe_checkout_session_id"]
    sandbox_ctl.pay(session_id)
    receipt = client.get(f"/checkout/success?session_id={session_id}")
    assert receipt.status_code == 200 and "Payment received" in receipt.get_data(as_text=True)
    assert_secure(receipt)
    assert_secure(client.get("/pay/pay_missing"))  # 404 page
    assert_secure(client.get("/checkout/success?session_id=nope"))


def test_stripe_webhook_answers_carry_security_headers(client):
    response = client.post("/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1,v1=bad"})
    assert response.status_code == 400
    assert_secure(response)


def test_static_files_may_be_cached_but_get_the_other_headers(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert_secure(response, cacheable=True)
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


def test_hsts_only_in_production(monkeypatch, tmp_path):
    for name, value in {
        "SECRET_KEY": "s",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "RATELIMIT_STORAGE_URI": "memory://",
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "PUBLIC_BASE_URL": "https://pay.example",
    }.items():
        monkeypatch.setenv(name, value)
    production = create_app({"APP_ENV": "production"})
    response = production.test_client().get("/api/v1/openapi.json")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/nowhere", "/api/v1/nowhere"])
def test_unknown_paths_carry_security_headers(client, path):
    assert_secure(client.get(path))
