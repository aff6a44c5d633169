"""Ids compare byte for byte on every database (issue 7, finding 10).

MariaDB's default collation made ``Case-X`` equal ``case-X`` and ``x`` equal ``x ``; Stripe ids,
our ids, order ids and ``Idempotency-Key`` values are case- and space-sensitive. Runs on SQLite,
on MariaDB (``TEST_DATABASE_URL``), whose schema comes from migration 0003, and on PostgreSQL,
whose ``varchar`` compares so under any deterministic collation (a database's default collation
always is one; trailing spaces count in ``varchar``, unlike ``char``).
"""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from app.extensions import db
from app.models import ProcessedStripeEvent, utcnow
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import payment_body, stripe_signature


def create(client, merchant, order_id, key=None):
    headers = dict(merchant.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/payments", json=payment_body(order_id=order_id), headers=headers)


def test_order_ids_differing_in_case_or_trailing_space_are_different_orders(client, merchant, sandbox_ctl):
    ids = set()
    for order_id in ("Case-X", "case-X", "Case-X "):
        answer = create(client, merchant, order_id)
        assert answer.status_code == 201, answer.get_json()
        assert answer.get_json()["order_id"] == order_id
        ids.add(answer.get_json()["id"])
    assert len(ids) == 3
    listed = client.get("/api/v1/payments", query_string={"order_id": "case-X"}, headers=merchant.headers)
    assert [p["order_id"] for p in listed.get_json()["data"]] == ["case-X"]


def test_idempotency_keys_differing_in_case_are_different_keys(client, merchant, sandbox_ctl):
    first = create(client, merchant, "order-1", key="Key-X")
    second = create(client, merchant, "order-2", key="key-X")
    assert first.status_code == second.status_code == 201, second.get_json()
    assert first.get_json()["id"] != second.get_json()["id"]
    replay = create(client, merchant, "order-2", key="key-X")
    assert replay.get_data() == second.get_data()


def test_stripe_event_ids_differing_in_case_are_different_events(app, client):
    outcomes = []
    for event_id in ("evt_abc", "evt_AbC", "evt_abc"):
        event = {
            "id": event_id,
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {"id": "cus_1"}},
        }
        payload = json.dumps(event).encode()
        answer = client.post(
            "/webhooks/stripe",
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(payload, WEBHOOK_SECRET),
            },
        )
        assert answer.status_code == 200
        outcomes.append(answer.get_json()["outcome"])
    assert outcomes == ["ignored", "ignored", "duplicate"]


def test_a_trailing_space_makes_a_different_id(app, is_mysql, is_postgresql):
    with app.app_context():
        db.session.add(
            ProcessedStripeEvent(id="evt_pad", type="customer.created", source="webhook", created_at=utcnow())
        )
        db.session.commit()
        found = db.session.scalars(
            sa.select(ProcessedStripeEvent.id).where(ProcessedStripeEvent.id.in_(["evt_pad ", "EVT_PAD"]))
        )
        assert list(found) == []
        if is_mysql:
            collation = db.session.scalar(
                sa.text(
                    "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = 'stripe_events' AND COLUMN_NAME = 'id'"
                )
            )
            assert collation in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
        if is_postgresql:
            deterministic = db.session.scalar(
                sa.text(
                    "SELECT c.collisdeterministic FROM pg_attribute a JOIN pg_collation c "
                    "ON c.oid = a.attcollation WHERE a.attrelid = 'stripe_events'::regclass "
                    "AND a.attname = 'id'"
                )
            )
            assert deterministic is True
        db.session.rollback()
