"""Signed Stripe events that must not be believed or cannot be read (issue 7, findings 9 and 13).

A valid signature proves who sent a payload, not that Stripe still knows its object nor that it
is an event at all: an event whose object Stripe answers 404 for is recorded and ignored, and a
signed payload that is not a readable event is a 400 ``event_malformed`` that changes nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Payment, ProcessedStripeEvent, Refund
from app.payments.stripe_events import HANDLED_TYPES
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import gateway_replaced, payment_body, stripe_signature, wait_for
from tests.support.factories import timeline_types

STRIPE_DOWN = "http://127.0.0.1:9"


def deliver(client: Any, event: Any) -> Any:
    payload = json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(payload, WEBHOOK_SECRET),
        },
    )


def event_of(event_type: str, obj: dict[str, Any], event_id: str = "evt_forged0001") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def recorded(app: Any, event_id: str) -> bool:
    with app.app_context():
        return db.session.get(ProcessedStripeEvent, event_id) is not None


def payment_row(app: Any, payment_id: str) -> tuple[str, int, list[str]]:
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert payment is not None
        return payment.status, payment.amount_refunded, timeline_types(payment_id)


# -- finding 9 ---------------------------------------------------------------------------------


def test_completed_event_for_a_session_stripe_does_not_know_does_not_fulfil(
    app, client, merchant, sandbox_ctl
):
    with gateway_replaced(app, api_base=STRIPE_DOWN):
        down = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers)
    payment_id = down.get_json()["error"]["payment_id"]
    before = payment_row(app, payment_id)
    forged = event_of(
        "checkout.session.completed",
        {
            "id": "cs_test_NotKnownToStripe",
            "object": "checkout.session",
            "client_reference_id": payment_id,
            "status": "complete",
            "payment_status": "paid",
            "amount_total": 3000,
            "currency": "usd",
            "metadata": {"payment_id": payment_id},
        },
    )
    answer = deliver(client, forged)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "ignored"
    assert payment_row(app, payment_id) == before == ("pending", 0, ["payment.requested"])
    assert recorded(app, forged["id"])


def test_refund_event_for_a_refund_stripe_does_not_know_does_not_refund(app, client, merchant, sandbox_ctl):
    created = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    sandbox_ctl.pay(created["stripe_checkout_session_id"])
    paid = wait_for(
        lambda: (p := client.get(f"/api/v1/payments/{created['id']}", headers=merchant.headers).get_json())[
            "status"
        ]
        == "succeeded"
        and p
    )
    before = payment_row(app, paid["id"])
    with app.app_context():
        intent_id = db.session.get(Payment, paid["id"]).stripe_payment_intent_id
    for n, event_type in enumerate(("refund.updated", "refund.created", "charge.refunded")):
        obj = {
            "id": "re_NotKnownToStripe" if event_type != "charge.refunded" else "ch_NotKnownToStripe",
            "object": "refund" if event_type != "charge.refunded" else "charge",
            "amount": 3000,
            "currency": "usd",
            "status": "succeeded",
            "payment_intent": intent_id,
            "metadata": {"payment_id": paid["id"]},
        }
        forged = event_of(event_type, obj, event_id=f"evt_forgedRefund{n}")
        answer = deliver(client, forged)
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["outcome"] in ("ignored", "processed")
        assert recorded(app, forged["id"])
    assert payment_row(app, paid["id"]) == before
    assert before[:2] == ("succeeded", 0)
    with app.app_context():
        assert db.session.scalars(sa.select(Refund)).all() == []


# -- finding 13: signed but malformed payloads ---------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

#: Members this service reads, as (path, a value of the right type).
READ_MEMBERS = [
    (("id",), "evt_x"),
    (("type",), "checkout.session.completed"),
    (("created",), 1),
    (("data",), {}),
    (("data", "object"), {}),
    (("data", "object", "id"), "cs_x"),
    (("data", "object", "client_reference_id"), "pay_x"),
    (("data", "object", "metadata"), {}),
    (("data", "object", "metadata", "payment_id"), "pay_x"),
    (("data", "object", "metadata", "refund_id"), "rf_x"),
    (("data", "object", "payment_intent"), "pi_x"),
    (("data", "object", "latest_charge"), "ch_x"),
    (("data", "object", "last_payment_error"), {}),
    (("data", "object", "last_payment_error", "code"), "card_declined"),
    (("data", "object", "last_payment_error", "message"), "declined"),
]


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target: Any = event
    for part in path[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[path[-1]] = value


@st.composite
def malformed_events(draw: st.DrawFn) -> Any:
    """A JSON value that is not an event, or a handled event with one read member replaced by a
    value of another type (or removed)."""
    if draw(st.booleans()):
        return draw(json_values.filter(lambda v: not isinstance(v, dict) or "data" not in v))
    event_type = draw(st.sampled_from(HANDLED_TYPES))
    event = event_of(event_type, {"id": "cs_forgedShape", "client_reference_id": "pay_forged"})
    path, good = draw(st.sampled_from(READ_MEMBERS))
    bad = draw(json_values.filter(lambda v, good=good: type(v) is not type(good) and v is not None))
    _set(event, path, bad)
    return event


@pytest.fixture
def live_payment(app, client, merchant, sandbox_ctl):
    created = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    return created


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=malformed_events())
def test_signed_malformed_payloads_are_400_and_change_nothing(app, client, sandbox_ctl, live_payment, event):
    before = payment_row(app, live_payment["id"])
    seen = processed_ids(app)
    answer = deliver(client, event)
    assert answer.status_code in (200, 400), (event, answer.get_data(as_text=True))
    if answer.status_code == 400:
        error = answer.get_json()["error"]
        assert error["code"] == "event_malformed" and error["message"]
        # Only the sandbox's own events (a late delivery from an earlier test) may have been
        # processed meanwhile: the refused payload claimed nothing.
        sent_by_sandbox = set(sandbox_ctl.state.events)
        assert processed_ids(app) - seen <= sent_by_sandbox
    assert payment_row(app, live_payment["id"]) == before


def processed_ids(app: Any) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(ProcessedStripeEvent.id)))


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ([], "event"),
        ("evt_1", "event"),
        ({"type": "checkout.session.completed", "data": {"object": {"id": "cs_1"}}}, "id"),
        ({"id": 7, "type": "checkout.session.completed", "data": {"object": {"id": "cs_1"}}}, "id"),
        ({"id": "evt_1", "data": {"object": {"id": "cs_1"}}}, "type"),
        ({"id": "evt_1", "type": "checkout.session.completed", "data": []}, "data"),
        ({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": "cs_1"}}, "data.object"),
        ({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {}}}, "data.object.id"),
        (
            {"id": "evt_1", "type": "refund.updated", "data": {"object": {"id": "re_1", "metadata": []}}},
            "data.object.metadata",
        ),
        (
            {
                "id": "evt_1",
                "type": "payment_intent.payment_failed",
                "data": {"object": {"id": "pi_1", "last_payment_error": {"code": 5}}},
            },
            "data.object.last_payment_error.code",
        ),
        (
            {"id": "evt_\ud800", "type": "checkout.session.completed", "data": {"object": {"id": "cs_1"}}},
            "event",
        ),
    ],
)
def test_malformed_event_names_the_member(app, client, event, param):
    answer = deliver(client, event)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "event_malformed"
    assert answer.get_json()["error"]["param"] == param


def test_unhandled_types_may_carry_any_object(app, client):
    event = event_of("customer.created", {"id": "cus_1", "metadata": [1, 2], "payment_intent": 5})
    answer = deliver(client, event)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "ignored"
