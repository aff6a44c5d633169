"""The payment paths under faults: a slow Stripe, concurrent retries and refunds, a retry after
502 that finds the payment opened by someone else (issue 7, findings 3, 5, 6, 7 and 12).

Everything runs over real HTTP on 127.0.0.1: the app's live server, the Stripe sandbox, and a
TCP proxy between them that delays Stripe's answers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Payment, Refund
from app.payments.reconcile import reconcile
from app.stripe_gateway import StripeGateway, StripeGateways, stripe_gateways
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import gateway_replaced, payment_body, wait_for
from tests.support.tcp_proxy import TcpProxy

#: Nothing listens on the discard port: the gateway cannot connect.
STRIPE_DOWN = "http://127.0.0.1:9"


@contextmanager
def stripe_at(app: Flask, api_base: str, **options: Any) -> Iterator[StripeGateway]:
    """Within the block the app reaches Stripe at ``api_base`` with the production settings
    (``STRIPE_TIMEOUT`` and the gateway's default retries) unless ``options`` override them."""
    working = app.extensions["stripe_gateways"]
    gateway = StripeGateway(
        "sk_test_suite",
        api_base=api_base,
        webhook_secrets=[WEBHOOK_SECRET],
        timeout=options.pop("timeout", app.config["STRIPE_TIMEOUT"]),
        **options,
    )
    app.extensions["stripe_gateways"] = StripeGateways(gateway)
    try:
        yield gateway
    finally:
        app.extensions["stripe_gateways"] = working


def sessions_at_stripe(sandbox_ctl: Any, payment_id: str | None = None) -> list[dict[str, Any]]:
    """The sandbox's Checkout Sessions (for ``payment_id`` only, if given), asked directly, every
    page (the suite makes more than one page of them)."""
    sessions: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = requests.get(
            f"{sandbox_ctl.url}/v1/checkout/sessions",
            params=params,
            headers={"Authorization": "Bearer sk_test_suite"},
            timeout=10,
        ).json()
        sessions += answer["data"]
        if not answer["has_more"]:
            break
        params["starting_after"] = answer["data"][-1]["id"]
    return [s for s in sessions if payment_id is None or s["client_reference_id"] == payment_id]


def api(live_server: str, merchant: Any, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
    headers = dict(merchant.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.request(method, f"{live_server}/api/v1{path}", headers=headers, timeout=60, **kw)


def payments(app: Flask) -> list[Payment]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(Payment)))
        db.session.expunge_all()
        return found


# -- the way to Stripe: the proxy the environment names when the service starts ------------------

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.mark.parametrize(("no_proxy", "status"), [("", 502), ("127.0.0.1", 201)], ids=["proxied", "no_proxy"])
def test_stripe_is_called_through_the_proxy_the_environment_named_at_start(
    app, live_server, merchant, sandbox_ctl, monkeypatch, no_proxy, status
):
    with ExitStack() as stack:
        with monkeypatch.context() as env:
            for name in _PROXY_VARIABLES:
                env.delenv(name, raising=False)
                env.delenv(name.upper(), raising=False)
            env.setenv("HTTP_PROXY", STRIPE_DOWN)  # a proxy nothing answers at
            env.setenv("NO_PROXY", no_proxy)
            stack.enter_context(stripe_at(app, sandbox_ctl.url))
        # The environment is back as it was (no proxy); the gateway keeps what it read.
        answer = api(live_server, merchant, "POST", "/payments", json=payment_body())
    assert answer.status_code == status, answer.text


# -- finding 3: no transaction open while Stripe is called --------------------------------------


def test_a_create_waiting_on_a_slow_stripe_blocks_no_other_request(app, live_server, merchant, sandbox_ctl):
    """Before: the create's reload after commit held SQLite's write lock across the Stripe call,
    so a plain GET waited 15 s (busy_timeout) and answered 500 "database is locked"."""
    other = api(live_server, merchant, "POST", "/payments", json=payment_body(order_id="other")).json()
    # Ids, not a count: the first page (100, newest first) of a shared sandbox may already be full.
    sessions_before = {s["id"] for s in sessions_at_stripe(sandbox_ctl)}
    port = int(sandbox_ctl.url.rsplit(":", 1)[1])
    with TcpProxy("127.0.0.1", port) as proxy, stripe_at(app, f"http://{proxy.address}", timeout=30):
        proxy.delay = 17.0  # longer than SQLite's busy_timeout (15 s)
        answers: dict[str, Any] = {}

        def slow_create() -> None:
            answers["create"] = api(live_server, merchant, "POST", "/payments", json=payment_body())
            answers["create_done"] = time.monotonic()

        creating = threading.Thread(target=slow_create)
        creating.start()
        # The session exists at Stripe: the create is now waiting for Stripe's answer.
        wait_for(lambda: {s["id"] for s in sessions_at_stripe(sandbox_ctl)} - sessions_before, timeout=15)
        read = api(live_server, merchant, "GET", f"/payments/{other['id']}")
        read_done = time.monotonic()
        creating.join(60)
    assert read.status_code == 200, read.text
    assert read_done < answers["create_done"], "the read waited for the create's Stripe call"
    assert answers["create"].status_code == 201


# -- finding 12: the whole create answers within its bound ----------------------------------------


def test_create_against_a_silent_stripe_answers_502_within_its_bound_and_the_retry_completes(
    app, live_server, merchant, sandbox_ctl
):
    port = int(sandbox_ctl.url.rsplit(":", 1)[1])
    with TcpProxy("127.0.0.1", port) as proxy, stripe_at(app, f"http://{proxy.address}") as gateway:
        proxy.delay = 30.0  # Stripe takes the request but answers long after any timeout
        started = time.monotonic()
        down = api(live_server, merchant, "POST", "/payments", key="bounded", json=payment_body())
        elapsed = time.monotonic() - started
    assert gateway.call_bound <= 10.0
    assert elapsed < 12.0, f"the create answered after {elapsed:.1f} s"  # before: 31 s
    assert down.status_code == 502 and down.json()["error"]["code"] == "gateway_unavailable"
    payment_id = down.json()["error"]["payment_id"]
    assert [p.status for p in payments(app)] == ["pending"]

    retried = api(live_server, merchant, "POST", "/payments", key="bounded", json=payment_body())
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == payment_id and retried.json()["status"] == "open"
    # Stripe made the session during the slow attempt; the retry got that very session.
    at_stripe = sessions_at_stripe(sandbox_ctl, payment_id)
    assert [s["id"] for s in at_stripe] == [retried.json()["stripe_checkout_session_id"]]


# -- finding 7: a retry after 502 completes whatever opened the payment meanwhile ------------------


def _open_by_pay_page(app: Flask, live_server: str, payment_id: str) -> None:
    answer = requests.get(f"{live_server}/pay/{payment_id}", allow_redirects=False, timeout=30)
    assert answer.status_code == 303


def _open_by_reconcile(app: Flask, live_server: str, payment_id: str) -> None:
    with app.app_context():
        reconcile(stripe_gateways(), older_than=0, events_window=0)


@pytest.mark.parametrize("opener", [_open_by_pay_page, _open_by_reconcile], ids=["pay_page", "reconcile"])
@pytest.mark.parametrize("key", [None, "retry-after-502"])
def test_retry_after_502_completes_the_payment_opened_meanwhile(
    app, live_server, merchant, sandbox_ctl, opener, key
):
    with gateway_replaced(app, api_base=STRIPE_DOWN):
        down = api(live_server, merchant, "POST", "/payments", key=key, json=payment_body())
    assert down.status_code == 502
    payment_id = down.json()["error"]["payment_id"]
    opener(app, live_server, payment_id)
    [opened] = payments(app)
    assert opened.status == "open"

    for _ in range(2):  # the retry, and (with a key) its replay
        retried = api(live_server, merchant, "POST", "/payments", key=key, json=payment_body())
        assert retried.status_code == 201, retried.text
        assert retried.json()["id"] == payment_id
        assert retried.json()["stripe_checkout_session_id"] == opened.stripe_checkout_session_id
    assert len(sessions_at_stripe(sandbox_ctl, payment_id)) == 1
    # A different request for the same order is still refused, naming the live payment.
    other = api(
        live_server,
        merchant,
        "POST",
        "/payments",
        json=payment_body(line_items=[{"name": "Hat", "unit_amount": 900, "quantity": 1}]),
    )
    assert other.status_code == 409 and other.json()["error"]["payment_id"] == payment_id


# -- finding 6: concurrent retries of a pending create -------------------------------------------


def test_fifty_concurrent_retries_of_a_pending_create_give_one_payment_and_one_session(
    app, live_server, merchant, sandbox_ctl
):
    with gateway_replaced(app, api_base=STRIPE_DOWN):
        down = api(live_server, merchant, "POST", "/payments", json=payment_body())
    assert down.status_code == 502
    payment_id = down.json()["error"]["payment_id"]
    start = threading.Barrier(50)

    def retry(i: int) -> tuple[str | None, int, Any]:
        key = "shared-key" if i % 5 == 0 else None  # ten of them share one Idempotency-Key
        start.wait()
        answer = api(live_server, merchant, "POST", "/payments", key=key, json=payment_body())
        return key, answer.status_code, answer.json()

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(retry, range(50)))
    statuses = Counter(status for _, status, _ in results)
    print(f"50 concurrent retries of a pending create: {dict(statuses)}")
    for key, status, body in results:
        if key is not None and status == 409:  # the key's first request was still running
            assert body["error"]["code"] == "idempotency_key_in_use"
        else:
            assert status == 201, body
            assert body["id"] == payment_id
    sessions = sessions_at_stripe(sandbox_ctl, payment_id)
    assert len(sessions) == 1
    assert {body["stripe_checkout_session_id"] for _, status, body in results if status == 201} == {
        sessions[0]["id"]
    }
    assert [p.status for p in payments(app)] == ["open"]


# -- finding 5: concurrent refunds ---------------------------------------------------------------


def test_concurrent_refunds_on_several_payments_never_fail_or_exceed_the_total(
    app, live_server, merchant, sandbox_ctl
):
    paid = []
    for n in range(6):
        created = api(live_server, merchant, "POST", "/payments", json=payment_body(order_id=f"R-{n}")).json()
        assert sandbox_ctl.pay(created["stripe_checkout_session_id"])["error"] is None
        paid.append(created)
    for created in paid:
        wait_for(
            lambda c=created: api(live_server, merchant, "GET", f"/payments/{c['id']}").json()["status"]
            == "succeeded",
            timeout=15,
        )
    jobs = [created["id"] for created in paid for _ in range(14)]  # 14 × 300 > 3,000 each
    start = threading.Barrier(len(jobs))

    def refund(payment_id: str) -> tuple[int, Any]:
        start.wait()
        answer = api(live_server, merchant, "POST", f"/payments/{payment_id}/refunds", json={"amount": 300})
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(refund, jobs))
    statuses = Counter(status for status, _ in results)
    print(f"{len(jobs)} concurrent refunds on 6 payments: {dict(statuses)}")
    for status, body in results:
        assert status == 201 or body["error"]["code"] in (
            "refund_exceeds_amount",
            "payment_not_refundable",
        ), body
    assert statuses[409] > 0  # the totals were really contended
    with app.app_context():
        for created in paid:
            amounts = db.session.scalars(
                sa.select(Refund.amount).where(
                    Refund.payment_id == created["id"], Refund.status.in_(["pending", "succeeded"])
                )
            ).all()
            assert sum(amounts) <= created["amount_total"] == 3000
            assert len(amounts) == 10
