"""Test mode: ``mk_test_…`` keys make payments with the test Stripe account, ``mk_live_…`` (and old
plain ``mk_…``) keys with the live one, and neither mode sees the other's objects.

The sandbox is one account (it accepts any ``sk_test_…`` key and every key sees every object), so
these tests give the app two accounts on it with different keys and webhook secrets: which key
the sandbox saw tells which account a call went to, and a webhook's signature which account
sent it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.merchant_events import emit
from app.merchants import hash_api_key
from app.models import ApiKey, Delivery, Payment, utcnow
from app.payments.expiry import sweep_expired_payments
from app.payments.reconcile import reconcile
from app.payments.serializers import payment_to_dict
from app.stripe_gateway import StripeGateway, StripeGateways
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import payment_body, stripe_signature

LIVE_KEY = "sk_test_suite"  # the sandbox refuses sk_live_ keys: the "live" account is a test one
TEST_KEY = "sk_test_testmode_account"
TEST_WEBHOOK_SECRET = "whsec_testmode_account"


@pytest.fixture
def accounts(app: Any, sandbox_ctl: Any) -> Iterator[StripeGateways]:
    """The app with two Stripe accounts on the sandbox: live (the suite's key and webhook secret)
    and test (another key and secret)."""
    working = app.extensions["stripe_gateways"]
    gateways = StripeGateways(
        StripeGateway(LIVE_KEY, api_base=sandbox_ctl.url, webhook_secrets=[WEBHOOK_SECRET]),
        StripeGateway(TEST_KEY, api_base=sandbox_ctl.url, webhook_secrets=[TEST_WEBHOOK_SECRET]),
    )
    app.extensions["stripe_gateways"] = gateways
    try:
        yield gateways
    finally:
        app.extensions["stripe_gateways"] = working


@pytest.fixture
def test_headers(client: Any, merchant: Any) -> dict[str, str]:
    """The merchant's test key (made by its live key through the API) as request headers."""
    response = client.post("/api/v1/api_keys", json={"livemode": False}, headers=merchant.headers)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["livemode"] is False and created["secret"].startswith("mk_test_")
    return {"Authorization": f"Bearer {created['secret']}"}


def _create(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/payments", json=payment_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _key_the_sandbox_saw(sandbox_ctl: Any, payment_id: str) -> str:
    """The secret key that created the payment's Checkout Session (the sandbox keeps idempotency
    keys per secret key)."""
    state = sandbox_ctl.wsgi.sandbox_state
    with state.lock:
        keys = [key for key, idem in state.idempotency if idem == f"checkout-session-{payment_id}"]
    assert len(keys) == 1, keys
    return keys[0]  # type: ignore[no-any-return]


def test_a_test_key_pays_through_the_test_account_and_a_live_key_through_the_live_one(
    accounts, client, merchant, test_headers, sandbox_ctl
):
    test_payment = _create(client, test_headers)
    live_payment = _create(client, merchant.headers)

    assert (test_payment["livemode"], live_payment["livemode"]) == (False, True)
    assert _key_the_sandbox_saw(sandbox_ctl, test_payment["id"]) == TEST_KEY
    assert _key_the_sandbox_saw(sandbox_ctl, live_payment["id"]) == LIVE_KEY


def test_the_modes_never_see_each_other(accounts, client, merchant, test_headers):
    test_payment = _create(client, test_headers, order_id="ORD-1")
    live_payment = _create(client, merchant.headers, order_id="ORD-1")  # same order, other mode: fine

    for headers, own, other in (
        (test_headers, test_payment, live_payment),
        (merchant.headers, live_payment, test_payment),
    ):
        assert client.get(f"/api/v1/payments/{own['id']}", headers=headers).status_code == 200
        missing = client.get(f"/api/v1/payments/{other['id']}", headers=headers)
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "resource_missing"
        listed = client.get("/api/v1/payments?order_id=ORD-1", headers=headers).get_json()["data"]
        assert [p["id"] for p in listed] == [own["id"]]
        update = client.post(
            f"/api/v1/payments/{other['id']}", json={"metadata": {"a": "b"}}, headers=headers
        )
        assert update.status_code == 404
        refund = client.post(f"/api/v1/payments/{other['id']}/refunds", json={}, headers=headers)
        assert refund.status_code == 404
        assert client.post(f"/api/v1/payments/{other['id']}/expire", headers=headers).status_code == 404
        timeline = client.get(f"/api/v1/payments/{own['id']}/events", headers=headers).get_json()["data"]
        assert timeline and all(entry["livemode"] is own["livemode"] for entry in timeline)
        assert client.get(f"/api/v1/payments/{other['id']}/events", headers=headers).status_code == 404
        events = client.get("/api/v1/events", headers=headers).get_json()["data"]
        assert {e["data"]["object"]["id"] for e in events} <= {own["id"]}
        assert all(e["livemode"] is own["livemode"] for e in events)


def test_idempotency_keys_are_per_mode(accounts, client, merchant, test_headers):
    body = payment_body(order_id="ORD-IDEM")
    live = client.post("/api/v1/payments", json=body, headers={**merchant.headers, "Idempotency-Key": "k1"})
    test = client.post("/api/v1/payments", json=body, headers={**test_headers, "Idempotency-Key": "k1"})

    assert (live.status_code, test.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in test.headers
    assert live.get_json()["id"] != test.get_json()["id"]


def test_keys_list_only_their_own_mode_and_a_test_key_cannot_make_a_live_key(client, merchant, test_headers):
    live_keys = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"]
    test_keys = client.get("/api/v1/api_keys", headers=test_headers).get_json()["data"]
    assert [k["livemode"] for k in live_keys] == [True]
    assert [k["livemode"] for k in test_keys] == [False]
    refused = client.post("/api/v1/api_keys", json={"livemode": True}, headers=test_headers)
    assert refused.status_code == 400 and refused.get_json()["error"]["param"] == "livemode"
    other = client.get(f"/api/v1/api_keys/{live_keys[0]['id']}", headers=test_headers)
    assert other.status_code == 404


def test_an_old_plain_mk_key_still_works_as_a_live_key(app, client, merchant):
    old_key = "mk_" + secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(ApiKey(merchant_id=merchant.id, key_hash=hash_api_key(old_key), prefix=old_key[:12]))
        db.session.commit()
    headers = {"Authorization": f"Bearer {old_key}"}

    payment = _create(client, headers)

    assert payment["livemode"] is True
    assert client.get(f"/api/v1/payments/{payment['id']}", headers=merchant.headers).status_code == 200


def test_without_a_test_account_test_keys_are_refused(app, client, merchant, test_headers, sandbox_ctl):
    working = app.extensions["stripe_gateways"]
    app.extensions["stripe_gateways"] = StripeGateways(working.live)  # STRIPE_TEST_SECRET_KEY unset
    try:
        used = client.get("/api/v1/payments", headers=test_headers)
        made = client.post("/api/v1/api_keys", json={"livemode": False}, headers=merchant.headers)
        live = client.get("/api/v1/payments", headers=merchant.headers)
    finally:
        app.extensions["stripe_gateways"] = working
    assert used.status_code == 403 and used.get_json()["error"]["code"] == "test_mode_unavailable"
    assert made.status_code == 403 and made.get_json()["error"]["code"] == "test_mode_unavailable"
    assert live.status_code == 200


def _completed_event(session: dict[str, Any], *, livemode: bool = False) -> bytes:
    event = {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(utcnow().timestamp()),
        "livemode": livemode,
        "data": {"object": session},
    }
    return json.dumps(event).encode()


def _post_webhook(client: Any, payload: bytes, secret: str) -> Any:
    headers = {"Stripe-Signature": stripe_signature(payload, secret), "Content-Type": "application/json"}
    return client.post("/webhooks/stripe", data=payload, headers=headers)


def test_only_the_test_accounts_signature_moves_a_test_payment(
    accounts, client, merchant, test_headers, sandbox_ctl
):
    sandbox_ctl.webhooks(False)  # the sandbox signs with the live secret: its deliveries are live events
    payment = _create(client, test_headers)
    assert sandbox_ctl.pay(payment["stripe_checkout_session_id"])["error"] is None
    session = accounts.test.retrieve_checkout_session(payment["stripe_checkout_session_id"])

    live_signed = _post_webhook(client, _completed_event(session), WEBHOOK_SECRET)
    assert live_signed.status_code == 200 and live_signed.get_json()["outcome"] == "ignored"
    assert (
        client.get(f"/api/v1/payments/{payment['id']}", headers=test_headers).get_json()["status"] == "open"
    )

    test_signed = _post_webhook(client, _completed_event(session), TEST_WEBHOOK_SECRET)
    assert test_signed.status_code == 200 and test_signed.get_json()["outcome"] == "processed"
    assert client.get(f"/api/v1/payments/{payment['id']}", headers=test_headers).get_json()["status"] == (
        "succeeded"
    )


def test_an_event_whose_livemode_is_not_its_accounts_is_refused(accounts, client, test_headers, sandbox_ctl):
    sandbox_ctl.webhooks(False)
    payment = _create(client, test_headers)
    assert sandbox_ctl.pay(payment["stripe_checkout_session_id"])["error"] is None
    session = accounts.test.retrieve_checkout_session(payment["stripe_checkout_session_id"])

    refused = _post_webhook(client, _completed_event(session, livemode=True), TEST_WEBHOOK_SECRET)

    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "livemode_mismatch"
    assert (
        client.get(f"/api/v1/payments/{payment['id']}", headers=test_headers).get_json()["status"] == "open"
    )


def test_merchant_events_reach_only_endpoints_of_their_mode(app, client, merchant, test_headers, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_URLS", True)
    endpoints = {}
    for name, headers in (("live", merchant.headers), ("test", test_headers)):
        body = {"url": f"http://127.0.0.1:9/{name}", "enabled_events": ["*"]}
        response = client.post("/api/v1/webhook_endpoints", json=body, headers=headers)
        assert response.status_code == 201 and response.get_json()["livemode"] is (name == "live")
        endpoints[name] = response.get_json()["id"]
    event_ids = {}
    with app.app_context():
        for livemode in (True, False):
            payment = db.session.get_one(Payment, _insert(merchant.id, livemode))
            event = emit("payment.succeeded", payment, None, payment_to_dict(payment))
            db.session.commit()
            sent_to = db.session.scalars(sa.select(Delivery.endpoint_id).where(Delivery.event_id == event.id))
            assert list(sent_to) == [endpoints["live" if livemode else "test"]]
            assert event.livemode is livemode
            event_ids[livemode] = event.id
    for livemode, headers in ((True, merchant.headers), (False, test_headers)):
        listed = client.get(f"/api/v1/events/{event_ids[livemode]}/deliveries", headers=headers).get_json()
        assert [(d["endpoint_id"], d["livemode"]) for d in listed["data"]] == [
            (endpoints["live" if livemode else "test"], livemode)
        ]


def _insert(merchant_id: str, livemode: bool) -> str:
    from tests.support.factories import insert_payment

    return insert_payment(merchant_id, livemode=livemode)


class CallsBySessionId:
    """Records which gateway retrieved which Checkout Session."""

    def __init__(self, monkeypatch: Any, gateways: StripeGateways) -> None:
        self.seen: dict[str, str] = {}
        for name, gateway in (("live", gateways.live), ("test", gateways.test)):
            monkeypatch.setattr(gateway, "retrieve_checkout_session", self._spy(name, gateway))

    def _spy(self, name: str, gateway: Any) -> Any:
        real = gateway.retrieve_checkout_session

        def retrieve(session_id: str) -> dict[str, Any]:
            self.seen[session_id] = name
            return real(session_id)  # type: ignore[no-any-return]

        return retrieve


def test_reconcile_and_the_expiry_sweep_ask_each_payments_own_account(
    app, accounts, client, merchant, test_headers, sandbox_ctl, monkeypatch
):
    sandbox_ctl.webhooks(False)
    test_payment = _create(client, test_headers)
    live_payment = _create(client, merchant.headers)
    sessions = {
        test_payment["stripe_checkout_session_id"]: "test",
        live_payment["stripe_checkout_session_id"]: "live",
    }

    calls = CallsBySessionId(monkeypatch, accounts)
    with app.app_context():
        report = reconcile(accounts, older_than=0, events_window=0)
    assert report.errors == [] and report.payments_checked == 2
    assert calls.seen == sessions

    calls.seen.clear()
    with app.app_context():
        db.session.execute(sa.update(Payment).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        sweep_expired_payments(accounts)
    assert calls.seen == sessions


def test_a_test_payments_refund_is_a_test_refund_unseen_by_live_keys(app, client, merchant, test_headers):
    from tests.support.factories import insert_refund

    with app.app_context():
        refund_id = insert_refund(_insert(merchant.id, livemode=False), status="succeeded")

    seen = client.get(f"/api/v1/refunds/{refund_id}", headers=test_headers)
    unseen = client.get(f"/api/v1/refunds/{refund_id}", headers=merchant.headers)

    assert seen.status_code == 200 and seen.get_json()["livemode"] is False
    assert unseen.status_code == 404
