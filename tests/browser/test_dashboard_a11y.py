"""Accessibility: axe-core (vendored, ``tests/browser/vendor``) on every dashboard page, on a
phone (390 px) and a desktop (1280 px): no serious or critical violation."""

# ruff: noqa: F811  (pytest fixtures imported from tests.dashboard.support are used as arguments)

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.db import unit_of_work
from app.extensions import db
from app.models import Merchant, Payment
from app.notifications.endpoints import create_endpoint
from app.notifications.settings import NotificationSettings
from app.notifications.worker import Worker
from app.payments.states import PaymentStatus
from app.payments.transitions import move
from tests.browser.axe import violations
from tests.dashboard.support import (  # noqa: F401  (fixtures)
    PASSWORD,
    _fresh_signin_limits,
    days_ago,
    insert_payment,
    make_user,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(app, merchant):
    """A merchant with payments in several states, a refund, an endpoint with a failed attempt."""
    with app.app_context():
        app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = True
        try:
            with unit_of_work():
                endpoint_id = create_endpoint(
                    db.session.get_one(Merchant, merchant.id),
                    {"url": "http://127.0.0.1:9/closed", "enabled_events": ["*"], "description": "Shop"},
                    NotificationSettings.from_config(app.config),
                )[0].id
            paid = insert_payment(merchant.id, status="open", order_id="PAID-1", created_at=days_ago(2))
            move(db.session.get_one(Payment, paid), PaymentStatus.SUCCEEDED, source="worker")
            db.session.commit()
            Worker(name="a11y", deadline=1).run_once()  # connection refused: a failed attempt
        finally:
            app.config["WEBHOOK_ALLOW_PRIVATE_URLS"] = False
        insert_payment(merchant.id, status="open", order_id="OPEN-1")
        insert_payment(merchant.id, status="processing", order_id="STUCK-1", created_at=days_ago(1))
        insert_payment(merchant.id, status="failed", order_id="FAILED-1", currency="eur")
    return {"paid": paid, "endpoint": endpoint_id}


@pytest.mark.parametrize("width", [390, 1280])
def test_every_dashboard_page_passes_axe(axe_page, shop, merchant, make_user, live_server, width):
    page = axe_page
    page.set_viewport_size({"width": width, "height": 900})
    base = f"{live_server}/dashboard"
    page.goto(f"{base}/signin")
    problems = {"signin": violations(page)}
    page.get_by_label("Email").fill(make_user(merchant.id).email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    pages = {
        "home": "/",
        "payments": "/payments",
        "payments filtered": "/payments?status=failed&currency=eur",
        "payment": f"/payments/{shop['paid']}",
        "refunds": "/refunds",
        "webhooks": "/developers/webhooks",
        "webhook": f"/developers/webhooks/{shop['endpoint']}?failed=1",
        "api keys": "/developers/api-keys",
        "not found": "/payments/pay_unknown",
    }
    for name, path in pages.items():
        page.goto(base + path)
        problems[name] = violations(page)
    page.goto(f"{base}/payments/{shop['paid']}")
    page.get_by_label("Amount to refund").fill("5")
    page.get_by_role("button", name="Refund…").click()
    expect(page.get_by_role("button", name="Confirm refund")).to_be_visible()
    problems["refund confirmation"] = violations(page)
    page.goto(f"{base}/developers/api-keys")
    page.get_by_role("button", name="Create API key").click()
    problems["new api key"] = violations(page)
    page.get_by_role("button", name="View test data").click()
    expect(page.get_by_text("you are viewing test data")).to_be_visible()
    problems["api keys (test data)"] = violations(page)
    assert {name: found for name, found in problems.items() if found} == {}


def test_sign_in_and_skip_to_content_by_keyboard(page, merchant, make_user, live_server):
    user = make_user(merchant.id)
    page.goto(f"{live_server}/dashboard/signin")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
