"""``/``: an index page in development, a JSON pointer to the API in production; behind
TRUSTED_PROXIES proxies the app builds https URLs from X-Forwarded-*."""

from __future__ import annotations

from app import create_app

PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s",
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "PUBLIC_BASE_URL": "https://pay.example",
}


def production_app(monkeypatch, tmp_path, **env):
    for name, value in {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", **env}.items():
        monkeypatch.setenv(name, value)
    return create_app()


def test_index_in_development_links_the_demo_shop_and_the_api(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite3")
    app = create_app({"APP_ENV": "development"})
    page = app.test_client().get("/")
    assert page.status_code == 200
    assert 'href="/demo/"' in page.text and "http://localhost/api/v1" in page.text


def test_index_in_production_points_at_the_api(monkeypatch, tmp_path):
    response = production_app(monkeypatch, tmp_path).test_client().get("/")
    assert response.status_code == 200
    assert response.json["api"] == "http://localhost/api/v1"
    assert response.json["openapi"] == "http://localhost/api/v1/openapi.json"


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "pay.example",
    "X-Forwarded-For": "203.0.113.9",
}


def test_behind_a_trusted_proxy_urls_are_https(monkeypatch, tmp_path):
    app = production_app(monkeypatch, tmp_path, TRUSTED_PROXIES="1")
    response = app.test_client().get("/", headers=FORWARDED)
    assert response.json["api"] == "https://pay.example/api/v1"


def test_forwarded_headers_are_ignored_without_trusted_proxies(monkeypatch, tmp_path):
    app = production_app(monkeypatch, tmp_path)
    response = app.test_client().get("/", headers=FORWARDED)
    assert response.json["api"] == "http://localhost/api/v1"
