"""``flask --app wsgi merchants create``: one JSON object, the key shown once and stored hashed."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.extensions import db
from app.merchants import hash_api_key
from app.models import ApiKey, Merchant


def test_create_prints_merchant_id_and_key_and_stores_only_a_hash(app, client):
    result = app.test_cli_runner().invoke(
        args=[
            "merchants",
            "create",
            "--name",
            "Acme",
            "--allowed-domain",
            "shop.example",
            "--allowed-domain",
            "Shop2.example",
        ]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == {"merchant_id", "api_key"}
    assert printed["merchant_id"].startswith("mer_") and printed["api_key"].startswith("mk_")
    with app.app_context():
        merchant = db.session.get(Merchant, printed["merchant_id"])
        assert merchant.allowed_domains == ["shop.example", "shop2.example"]
        stored = db.session.scalars(sa.select(ApiKey.key_hash)).all()
        assert stored == [hash_api_key(printed["api_key"])]
        assert printed["api_key"] not in stored
    listed = client.get("/api/v1/payments", headers={"Authorization": f"Bearer {printed['api_key']}"})
    assert listed.status_code == 200


def test_create_without_a_domain_is_a_usage_error(app):
    result = app.test_cli_runner().invoke(args=["merchants", "create", "--name", "Acme"])
    assert result.exit_code != 0
    assert "allowed-domain" in result.output
