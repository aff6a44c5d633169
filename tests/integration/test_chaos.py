"""The service under a misbehaving Stripe (issue 10, section 3).

Eight merchant clients create 200 payments through the API at once, and shoppers pay three in
four of them, while the sandbox answers 20 % of Stripe API calls with a 500, 10 % with a 429,
loses 10 % of its answers after doing the work, adds latency, and drops 30 %, duplicates 20 %
and reorders its webhooks. The merchant retries a create (or refund) that answered 5xx with the
same ``Idempotency-Key`` and body, and refunds, once, payments it was told had succeeded. The
notifications worker delivers to the merchant's endpoint all along. Then the faults are
cleared, reconciliation runs (as the worker runs it every 5 minutes) and the outbox is drained.

Afterwards every paid payment is ``succeeded`` (or ``refunded``) and fulfilled exactly once,
every unpaid one is ``open`` or ``expired``, Stripe holds exactly one Checkout Session per
payment and one refund per refunded payment, and the merchant got every event under a single
``webhook-id``.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.wrappers import Request, Response

from app.extensions import db
from app.models import Delivery, MerchantEvent, TimelineEntry
from app.notifications.outbox import status_counts
from app.notifications.worker import Worker
from app.payments.reconcile import reconcile
from app.stripe_gateway import stripe_gateways
from tests.helpers import payment_body
from tests.notifications.support import register
from tests.support.servers import ServerThread, free_port

PAYMENTS = 200
CLIENTS = 8
REFUNDS = 40
#: Stripe misbehaving; each fault has its own seed so a run draws the same coin sequence.
FAULTS = (
    {"latency": [0, 0.05], "seed": 100},
    {"status": 500, "rate": 0.2, "seed": 101},
    {"status": 429, "rate": 0.1, "seed": 102},
    {"lose_answer": True, "rate": 0.1, "seed": 103},
    {"webhook": "drop", "rate": 0.3, "seed": 104},
    {"webhook": "duplicate", "rate": 0.2, "seed": 105},
    {"webhook": "reorder", "rate": 0.5, "window": 0.5, "seed": 106},
)


def shopper_pays(index: int) -> bool:
    """Three payments in four are paid; the rest are left open."""
    return index % 4 != 3


class MerchantServer:
    """The merchant's server calling our API as a merchant would: a POST that answers 5xx, 429
    or 409 ``idempotency_key_in_use`` is sent again, same ``Idempotency-Key`` and same body."""

    ATTEMPTS = 20

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.retried: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    def _http(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session  # type: ignore[no-any-return]

    def post(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        for attempt in range(self.ATTEMPTS):
            response = self._http().post(
                self.base_url + path, json=body, headers={**self.headers, "Idempotency-Key": key}, timeout=30
            )
            if response.status_code in (200, 201):
                return response.json()  # type: ignore[no-any-return]
            in_use = response.status_code == 409 and "idempotency_key_in_use" in response.text
            assert response.status_code >= 500 or response.status_code == 429 or in_use, (
                f"POST {path} (key {key}): {response.status_code} {response.text}"
            )
            with self._lock:
                self.retried[response.status_code] += 1
            time.sleep(0.05 * (attempt + 1))
        raise AssertionError(f"POST {path} (key {key}) still failing after {self.ATTEMPTS} attempts")

    def get(self, path: str) -> dict[str, Any]:
        response = self._http().get(self.base_url + path, headers=self.headers, timeout=30)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()  # type: ignore[no-any-return]

    def list_all(self, path: str) -> list[dict[str, Any]]:
        """Every object of a list endpoint, following ``starting_after``."""
        objects: list[dict[str, Any]] = []
        while True:
            after = f"&starting_after={objects[-1]['id']}" if objects else ""
            page = self.get(f"{path}?limit=100{after}")
            objects += page["data"]
            if not page["has_more"]:
                return objects


class MerchantEndpoint:
    """The merchant's webhook endpoint on 127.0.0.1. It verifies each message's Standard Webhooks
    signature, records the ``webhook-id`` under the event's id, and answers 503 to the first
    attempt of about one event in five (chosen by the event id), so that the worker retries."""

    def __init__(self) -> None:
        self.url = ""
        self.secret = ""  # set once the endpoint is registered
        self.webhook_ids: dict[str, list[str]] = defaultdict(list)
        self.events: dict[str, dict[str, Any]] = {}
        self.forged = 0
        self._lock = threading.Lock()

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            event = Webhook(self.secret).verify(request.get_data(), headers)
        except WebhookVerificationError:
            with self._lock:
                self.forged += 1
            return Response("bad signature", status=400)(environ, start_response)
        with self._lock:
            seen = self.webhook_ids[event["id"]]
            seen.append(headers["webhook-id"])
            self.events[event["id"]] = event
            first = len(seen) == 1
        refuse = first and zlib.crc32(event["id"].encode()) % 5 == 0
        return Response(status=503 if refuse else 204)(environ, start_response)

    def succeeded_payments(self) -> set[str]:
        """Ids of the payments whose ``payment.succeeded`` has arrived."""
        with self._lock:
            return {e["data"]["id"] for e in self.events.values() if e["type"] == "payment.succeeded"}


class BackgroundWorker:
    """The notifications worker delivering in a thread while the test runs, as ``flask worker``
    does (without its signal handling, which only the main thread may set up). An error in the
    loop is kept for the test to report."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-worker", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with self.app.app_context():
            worker = Worker(name="chaos")
            while not self._stop.is_set():
                try:
                    worker.run_once(poll_interval=0.05)
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    self.errors.append(repr(exc))
                    db.session.rollback()
                self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture
def merchant_endpoint(app: Flask) -> Iterator[MerchantEndpoint]:
    """A merchant endpoint on loopback; the app may send to it and retries at once."""
    saved = {k: app.config[k] for k in ("WEBHOOK_ALLOW_PRIVATE_URLS", "WEBHOOK_RETRY_SCHEDULE")}
    app.config.update(WEBHOOK_ALLOW_PRIVATE_URLS=True, WEBHOOK_RETRY_SCHEDULE=[0, 0, 0])
    endpoint = MerchantEndpoint()
    server = ServerThread(endpoint.wsgi, free_port())
    endpoint.url = server.url + "/hooks"
    yield endpoint
    server.stop()
    app.config.update(saved)


def fault_name(spec: dict[str, Any]) -> str:
    """``"status 500"``, ``"webhook drop"``, ``"latency"``: a fault's kind, for the printed counts."""
    kind = next(k for k in ("latency", "status", "lose_answer", "webhook") if k in spec)
    return f"{kind} {spec[kind]}" if kind in ("status", "webhook") else kind


def drain_outbox(app: Flask) -> dict[str, int]:
    """Deliver every due message (retries are immediate); returns the final status counts."""
    with app.app_context():
        worker = Worker(name="chaos-drain")
        for _ in range(20):
            worker.run_once(poll_interval=0.05)
            counts = status_counts()
            if counts["pending"] == counts["retrying"] == 0:
                return counts
        return status_counts()


def test_payments_survive_a_failing_stripe_and_unreliable_webhooks(
    app, client, merchant, sandbox_ctl, live_server, merchant_endpoint
):
    started = time.monotonic()
    phases: dict[str, float] = {}
    merchant_endpoint.secret = register(client, merchant, merchant_endpoint.url)["secret"]
    shop = MerchantServer(live_server, merchant.api_key)
    state = sandbox_ctl.wsgi.sandbox_state

    def checkout(index: int) -> dict[str, Any]:
        body = payment_body(
            order_id=f"CHAOS-{index:03d}",
            line_items=[{"name": f"Item {index}", "unit_amount": 1000 + index, "quantity": 1}],
        )
        payment = shop.post("/api/v1/payments", body, key=f"create-{index}")
        assert payment["status"] == "open", payment
        if shopper_pays(index):
            paid = sandbox_ctl.pay(payment["stripe_checkout_session_id"])
            assert paid["session"]["payment_status"] == "paid", paid
        return payment

    def refund(payment_id: str) -> dict[str, Any]:
        body = {"reason": "requested_by_customer"}
        return shop.post(f"/api/v1/payments/{payment_id}/refunds", body, key=f"refund-{payment_id}")

    worker = BackgroundWorker(app)
    try:
        with sandbox_ctl.faults(*FAULTS) as faults, ThreadPoolExecutor(CLIENTS) as pool:
            created = list(pool.map(checkout, range(PAYMENTS)))
            phases["created and paid"] = time.monotonic() - started
            sandbox_ctl.flush(8)
            phases["webhooks flushed"] = time.monotonic() - started
            # The merchant refunds orders it was told were paid, as a shop does.
            told = merchant_endpoint.succeeded_payments()
            to_refund = [p["id"] for p in created if p["id"] in told][:REFUNDS]
            refunds = dict(zip(to_refund, pool.map(refund, to_refund), strict=True))
            fired = faults.fired()
            phases["refunded"] = time.monotonic() - started
        sandbox_ctl.flush(30)
        phases["webhooks flushed again"] = time.monotonic() - started
        with app.app_context():
            report = reconcile(stripe_gateways(), older_than=0)
        phases["reconciled"] = time.monotonic() - started
    finally:
        worker.stop()
    outbox = drain_outbox(app)
    elapsed = time.monotonic() - started

    ids = [p["id"] for p in created]
    paid_ids = {p["id"] for i, p in enumerate(created) if shopper_pays(i)}
    payments = {p["id"]: p for p in shop.list_all("/api/v1/payments")}
    with app.app_context():
        timeline = Counter(
            db.session.execute(
                sa.select(TimelineEntry.payment_id, TimelineEntry.type).where(
                    TimelineEntry.payment_id.in_(ids)
                )
            ).all()
        )
        events = {
            e.id: (e.type, e.payment_id, e.data)
            for e in db.session.scalars(
                sa.select(MerchantEvent).where(MerchantEvent.merchant_id == merchant.id)
            )
        }
        deliveries = {
            d.event_id: (d.id, d.status)
            for d in db.session.scalars(sa.select(Delivery).where(Delivery.event_id.in_(events)))
        }
        db.session.rollback()
    with state.lock:
        sessions = [dict(s) for s in state.sessions.values() if s.get("client_reference_id") in payments]
        stripe_refunds = [dict(r) for r in state.refunds.values()]
    sessions_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for session in sessions:
        sessions_of[session["client_reference_id"]].append(session)
    refunds_at_stripe = Counter(r["payment_intent"] for r in stripe_refunds)  # whatever their status
    fired_by_kind = {fault_name(spec): count for spec, count in fired}
    redeliveries = sum(len(w) - 1 for w in merchant_endpoint.webhook_ids.values())
    print(
        f"\nchaos: {len(created)} created, 5xx/429/409 answers retried by the merchant "
        f"{dict(shop.retried)}, {len(paid_ids)} paid, {len(refunds)} refunded, "
        f"{len(events)} merchant events, {sum(len(w) for w in merchant_endpoint.webhook_ids.values())} "
        f"deliveries to the merchant ({redeliveries} redeliveries), faults fired {fired_by_kind}; "
        f"{report.summary()}; outbox {outbox}; {elapsed:.1f} s "
        f"({', '.join(f'{name} at {at:.1f} s' for name, at in phases.items())})"
    )

    problems: list[str] = []
    assert len(payments) == PAYMENTS
    for payment_id in ids:
        payment = payments[payment_id]
        fulfilled = timeline[(payment_id, "payment.fulfilled")]
        succeeded = timeline[(payment_id, "payment.succeeded")]
        ours = sessions_of[payment_id]
        if len(ours) != 1 or ours[0]["id"] != payment["stripe_checkout_session_id"]:
            problems.append(f"{payment_id}: {len(ours)} Checkout Sessions at Stripe")
        intent = ours[0]["payment_intent"] if ours else None
        if payment_id not in paid_ids:
            if payment["status"] not in ("open", "expired") or fulfilled or payment["fulfilled_at"]:
                problems.append(f"{payment_id} (unpaid): {payment['status']}, fulfilled {fulfilled}x")
            continue
        expected = "refunded" if payment_id in refunds else "succeeded"
        if payment["status"] != expected or fulfilled != 1 or succeeded != 1 or not payment["fulfilled_at"]:
            problems.append(
                f"{payment_id} (paid): {payment['status']} (expected {expected}), "
                f"{succeeded}x payment.succeeded, {fulfilled}x payment.fulfilled"
            )
        notices = [
            data for (kind, pid, data) in events.values() if kind == "payment.succeeded" and pid == payment_id
        ]
        if len(notices) != 1 or notices[0]["fulfilled_at"] != payment["fulfilled_at"]:
            problems.append(f"{payment_id}: {len(notices)} payment.succeeded events or fulfilled_at changed")
        if refunds_at_stripe[intent] != (1 if payment_id in refunds else 0):
            problems.append(f"{payment_id}: {refunds_at_stripe[intent]} refunds at Stripe")
    for payment_id, refund in refunds.items():
        ours = shop.get(f"/api/v1/payments/{payment_id}/refunds")["data"]
        amount = payments[payment_id]["amount_total"]
        if [(r["id"], r["status"], r["amount"]) for r in ours] != [(refund["id"], "succeeded", amount)]:
            problems.append(f"{payment_id}: refunds {[(r['id'], r['status'], r['amount']) for r in ours]}")
        if payments[payment_id]["amount_refunded"] != amount:
            problems.append(
                f"{payment_id}: amount_refunded {payments[payment_id]['amount_refunded']} of {amount}"
            )
    expected_events = Counter({"payment.succeeded": len(paid_ids), "refund.succeeded": len(refunds)})
    if Counter(kind for kind, _, _ in events.values()) != expected_events:
        problems.append(f"merchant events {Counter(kind for kind, _, _ in events.values())}")
    for event_id in events:
        webhook_ids = set(merchant_endpoint.webhook_ids.get(event_id, []))
        delivery_id, status = deliveries[event_id]
        if webhook_ids != {delivery_id} or status != "succeeded":
            problems.append(
                f"{event_id}: delivered under {webhook_ids or 'no'} webhook-id(s), message {status}"
            )
    if set(merchant_endpoint.webhook_ids) - set(events) or merchant_endpoint.forged:
        problems.append(f"endpoint got unknown events or {merchant_endpoint.forged} bad signatures")
    if worker.errors:
        problems.append(f"worker loop errors: {worker.errors[:3]}")

    assert len(refunds) >= REFUNDS // 2, "too few payment.succeeded notifications arrived under faults"
    assert all(count > 0 for count in fired_by_kind.values()), fired_by_kind
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
