"""NUL (U+0000) anywhere in a request is a 400 naming where it was, and changes nothing, on every
database: PostgreSQL can neither store nor compare it, and psycopg's refusal was a 500 for ids in
paths, query parameters, JSON fields and headers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Payment
from tests.helpers import payment_body


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/payments/pay_%00", "path"),
        ("/api/v1/payments?order_id=A%00", "order_id"),
        ("/api/v1/payments?starting_after=pay_%00", "starting_after"),
        ("/api/v1/events/evt_%00", "path"),
        ("/api/v1/refunds/re_%00", "path"),
        ("/api/v1/webhook_endpoints/we_%00", "path"),
    ],
)
def test_nul_in_an_api_path_or_query_is_400_naming_it(client, merchant, path, param):
    response = client.get(path, headers=merchant.headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", param)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (payment_body(order_id="A\u0000B"), "order_id"),
        (payment_body(customer_email="ada\u0000@example.com"), "customer_email"),
        (payment_body(metadata={"cart": "c\u000077"}), "metadata.cart"),
    ],
)
def test_nul_in_a_json_field_is_400_naming_it_and_stores_nothing(app, client, merchant, body, param):
    response = client.post("/api/v1/payments", json=body, headers=merchant.headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["param"] == param
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_nul_in_an_idempotency_key_is_400(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "key\u0000"}
    response = client.post("/api/v1/payments", json=payment_body(), headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == "Idempotency-Key"


@pytest.mark.parametrize("path", ["/pay/pay_%00", "/checkout/cancel?payment_id=pay_%00"])
def test_nul_in_a_shopper_page_address_is_400(client, path):
    assert client.get(path).status_code == 400
