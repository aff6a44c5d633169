"""Developers → Webhooks without a browser: create (secret once), test event, disable, delete."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Delivery, MerchantEvent, WebhookEndpoint


@pytest.fixture
def admin(app, dashboard, merchant, make_user):
    app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = True
    yield dashboard(make_user(merchant.id))
    app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = False


def test_endpoint_lifecycle(app, admin, merchant):
    created = admin.post("/dashboard/developers/webhooks", {"url": "http://127.0.0.1:9/hooks"})
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and "Signing secret" in page
    secret = page.split('id="secret-value" readonly value="')[1].split('"')[0]
    assert secret.startswith("whsec_")
    with app.app_context():
        endpoint_id = db.session.scalars(sa.select(WebhookEndpoint.id)).one()
    assert secret not in admin.get(f"/dashboard/developers/webhooks/{endpoint_id}").get_data(as_text=True)

    assert admin.post(f"/dashboard/developers/webhooks/{endpoint_id}/test").status_code == 302
    with app.app_context():
        event = db.session.scalars(sa.select(MerchantEvent)).one()
        assert event.type == "webhook_endpoint.test" and event.data["id"] == endpoint_id
        delivery = db.session.scalars(sa.select(Delivery)).one()
        assert (delivery.endpoint_id, delivery.status) == (endpoint_id, "pending")

    admin.post(f"/dashboard/developers/webhooks/{endpoint_id}/enabled", {"enabled": "0"})
    with app.app_context():
        assert db.session.get_one(WebhookEndpoint, endpoint_id).status == "disabled"
    admin.post(f"/dashboard/developers/webhooks/{endpoint_id}/enabled", {"enabled": "1"})
    with app.app_context():
        assert db.session.get_one(WebhookEndpoint, endpoint_id).status == "enabled"

    assert admin.post(f"/dashboard/developers/webhooks/{endpoint_id}/delete").status_code == 302
    assert admin.get(f"/dashboard/developers/webhooks/{endpoint_id}").status_code == 404


def test_a_bad_endpoint_url_is_explained(admin):
    response = admin.post("/dashboard/developers/webhooks", {"url": "ftp://example.com/x"})
    assert response.status_code == 400
    assert "url" in response.get_data(as_text=True).lower()
