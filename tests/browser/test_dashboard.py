"""The merchant dashboard in real Chromium (a 390 px wide phone): refund from the payment page,
resend a failed webhook delivery, rotate a secret, create and revoke an API key, viewer limits."""

# ruff: noqa: F811  (pytest fixtures imported from tests.dashboard.support are used as arguments)

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from werkzeug.wrappers import Request, Response

from app.db import unit_of_work
from app.extensions import db
from app.models import Merchant, Payment
from app.notifications.endpoints import create_endpoint
from app.notifications.settings import NotificationSettings
from app.notifications.worker import Worker
from app.payments.states import PaymentStatus
from app.payments.transitions import move
from tests.dashboard.support import (  # noqa: F401  (fixtures)
    PASSWORD,
    _fresh_signin_limits,
    insert_payment,
    make_user,
)
from tests.helpers import payment_body, wait_for
from tests.support.servers import ServerThread, free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(name="Acme Shop", domains=("127.0.0.1",))


def sign_in(page: Page, live_server: str, user) -> None:
    page.goto(f"{live_server}/dashboard/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()


def api_payment(client, merchant, payment_id):
    return client.get(f"/api/v1/payments/{payment_id}", headers=merchant.headers).get_json()


def test_search_then_refund_part_from_the_payment_page(
    page, client, merchant, make_user, live_server, sandbox_ctl
):
    body = payment_body(order_id="ORD-7781", success_url=f"{live_server}/t", cancel_url=f"{live_server}/c")
    created = client.post("/api/v1/payments", json=body, headers=merchant.headers).get_json()
    sandbox_ctl.pay(created["stripe_checkout_session_id"])
    wait_for(lambda: api_payment(client, merchant, created["id"])["status"] == "succeeded")

    sign_in(page, live_server, make_user(merchant.id))
    page.get_by_role("link", name="Payments").click()
    page.get_by_label("Search").fill("ORD-7781")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="ORD-7781").click()
    expect(page.get_by_role("heading", name="$30.00 for order ORD-7781")).to_be_visible()

    page.get_by_label("Amount to refund").fill("10.00")
    page.get_by_label("Reason").select_option("requested_by_customer")
    page.get_by_role("button", name="Refund…").click()
    expect(page.get_by_role("heading", name="Refund $10.00?")).to_be_visible()
    page.get_by_role("button", name="Confirm refund").click()
    expect(page.get_by_text("Refund of $10.00 is")).to_be_visible()

    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline.get_by_text("refund.requested")).to_be_visible()
    expect(timeline.get_by_text("from dashboard").first).to_be_visible()
    wait_for(lambda: api_payment(client, merchant, created["id"])["amount_refunded"] == 1000)
    assert api_payment(client, merchant, created["id"])["status"] == "partially_refunded"
    events = client.get(f"/api/v1/payments/{created['id']}/events", headers=merchant.headers).get_json()[
        "data"
    ]
    assert [e["source"] for e in events if e["type"] == "refund.requested"] == ["dashboard"]
    page.reload()
    expect(page.get_by_role("region", name="Timeline").get_by_text("refund.succeeded")).to_be_visible()


@pytest.fixture
def shop_receiver() -> Iterator[dict]:
    """A merchant's webhook receiver on loopback answering ``state["status"]``."""
    state = {"status": 500}

    def wsgi(environ, start_response):
        Request(environ).get_data()
        return Response(f"shop says {state['status']}", status=state["status"])(environ, start_response)

    server = ServerThread(wsgi, free_port())
    state["url"] = server.url + "/hooks"
    yield state
    server.stop()


@pytest.fixture
def private_urls_allowed(app):
    app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = True
    yield
    app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = False


def test_resend_a_failed_delivery_and_rotate_the_secret(
    page, app, merchant, make_user, live_server, shop_receiver, private_urls_allowed
):
    with app.app_context():
        with unit_of_work():
            endpoint, first_secret = create_endpoint(
                db.session.get_one(Merchant, merchant.id),
                {"url": shop_receiver["url"], "enabled_events": ["*"]},
                NotificationSettings.from_config(app.config),
            )
        payment_id = insert_payment(merchant.id, status="open", order_id="ORD-9")
        move(db.session.get_one(Payment, payment_id), PaymentStatus.SUCCEEDED, source="worker")
        db.session.commit()
        assert Worker(name="browser-test").run_once() == 1  # answered 500: retrying

    sign_in(page, live_server, make_user(merchant.id))
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name=shop_receiver["url"]).click()
    page.get_by_role("link", name="Failed only").click()
    delivery = page.locator("article.event").filter(has_text="payment.succeeded")
    expect(delivery.get_by_text("HTTP 500")).to_be_visible()
    expect(delivery.get_by_text("shop says 500")).to_be_visible()

    shop_receiver["status"] = 200
    delivery.get_by_role("button", name="Resend").click()
    expect(page.get_by_text("queued again to 1 endpoint(s)")).to_be_visible()
    with app.app_context():
        assert Worker(name="browser-test").run_once() == 1
    page.get_by_role("link", name="Show all").click()
    delivery = page.locator("article.event").filter(has_text="payment.succeeded")
    expect(delivery.get_by_text("HTTP 200")).to_be_visible()
    expect(delivery.get_by_text("HTTP 500")).to_be_visible()  # the first attempt stays in the history

    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_text("Secret rotated.")).to_be_visible()
    new_secret = page.get_by_label("Signing secret").input_value()
    assert new_secret.startswith("whsec_") and new_secret != first_secret


def test_create_and_revoke_an_api_key(page, client, merchant, make_user, live_server):
    sign_in(page, live_server, make_user(merchant.id))
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="Create API key").click()
    key = page.get_by_label("New API key").input_value()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/payments", headers=headers).status_code == 200
    page.get_by_role("button", name=f"Revoke {key[:12]}…").click()
    expect(page.get_by_text("API key revoked.")).to_be_visible()
    assert client.get("/api/v1/payments", headers=headers).status_code == 401


def test_viewer_has_no_refund_button_and_a_forged_refund_is_refused(
    page, app, merchant, make_user, make_payment_id, live_server
):
    payment_id = make_payment_id()
    sign_in(page, live_server, make_user(merchant.id, role="viewer"))
    page.goto(f"{live_server}/dashboard/payments/{payment_id}")
    expect(page.get_by_role("heading", name="$30.00", exact=False)).to_be_visible()
    expect(page.get_by_role("button", name="Refund…")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        f"{live_server}/dashboard/payments/{payment_id}/refund",
        form={"csrf_token": token, "reason": "duplicate", "confirm": "yes"},
    )
    assert forged.status == 403
    with app.app_context():
        assert db.session.get_one(Payment, payment_id).amount_refunded == 0


def test_another_merchants_payment_url_is_404(page, make_merchant, make_user, make_payment_id, live_server):
    mine, theirs = make_merchant(name="Mine"), make_merchant(name="Theirs")
    sign_in(page, live_server, make_user(mine.id))
    response = page.goto(f"{live_server}/dashboard/payments/{make_payment_id(theirs.id)}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()


@pytest.fixture
def make_payment_id(app, merchant):
    def make(merchant_id: str | None = None) -> str:
        with app.app_context():
            return insert_payment(merchant_id or merchant.id)

    return make


def test_the_test_mode_switch_shows_test_data_under_a_marker(page, app, merchant, make_user, live_server):
    with app.app_context():
        insert_payment(merchant.id, order_id="LIVE-ORDER")
        insert_payment(merchant.id, order_id="TEST-ORDER", livemode=False)
    sign_in(page, live_server, make_user(merchant.id, role="viewer"))
    page.get_by_role("link", name="Payments").click()
    expect(page.get_by_role("link", name="LIVE-ORDER")).to_be_visible()
    expect(page.get_by_role("link", name="TEST-ORDER")).to_have_count(0)
    expect(page.get_by_text("you are viewing test data")).to_have_count(0)

    page.get_by_role("button", name="View test data").click()
    expect(page.get_by_role("status").get_by_text("you are viewing test data")).to_be_visible()
    expect(page.get_by_role("link", name="TEST-ORDER")).to_be_visible()
    expect(page.get_by_role("link", name="LIVE-ORDER")).to_have_count(0)

    page.get_by_role("button", name="View live data").click()
    expect(page.get_by_role("link", name="LIVE-ORDER")).to_be_visible()
    expect(page.get_by_text("you are viewing test data")).to_have_count(0)
