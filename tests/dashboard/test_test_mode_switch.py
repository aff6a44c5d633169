"""The dashboard's Test mode switch: live data by default; switched on, every page shows (and every
action touches) only test-mode objects, under a visible "viewing test data" marker."""

from __future__ import annotations

import pytest

from app.stripe_gateway import StripeGateways

TEST_BANNER = "you are viewing test data"


@pytest.fixture
def viewer(dashboard, merchant, make_user):
    return dashboard(make_user(merchant.id, role="viewer"))


def test_live_by_default_and_the_switch_shows_only_test_data(viewer, merchant, make_payment):
    live = make_payment(merchant.id, order_id="LIVE-1")
    test = make_payment(merchant.id, order_id="TEST-1", livemode=False)

    page = viewer.get("/dashboard/payments").get_data(as_text=True)
    assert live in page and test not in page and TEST_BANNER not in page
    assert viewer.get(f"/dashboard/payments/{test}").status_code == 404

    switched = viewer.post("/dashboard/mode", {"livemode": "0", "next": "/dashboard/payments"})
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/dashboard/payments")
    page = viewer.get("/dashboard/payments").get_data(as_text=True)
    assert test in page and live not in page and TEST_BANNER in page
    assert viewer.get(f"/dashboard/payments/{live}").status_code == 404
    assert viewer.get(f"/dashboard/payments/{test}").status_code == 200

    viewer.post("/dashboard/mode", {"livemode": "1"})
    page = viewer.get("/dashboard/payments").get_data(as_text=True)
    assert live in page and test not in page


def test_keys_made_while_viewing_test_data_are_test_keys(dashboard, merchant, make_user):
    admin = dashboard(make_user(merchant.id))
    admin.post("/dashboard/mode", {"livemode": "0"})
    page = admin.post("/dashboard/developers/api-keys").get_data(as_text=True)
    assert "mk_test_" in page and merchant.api_key[:12] not in page  # the live key is not listed


def test_without_a_test_account_there_is_no_switch(app, viewer, merchant, make_payment):
    test = make_payment(merchant.id, livemode=False)
    working = app.extensions["stripe_gateways"]
    app.extensions["stripe_gateways"] = StripeGateways(working.live)
    try:
        viewer.post("/dashboard/mode", {"livemode": "0"})
        page = viewer.get("/dashboard/payments").get_data(as_text=True)
    finally:
        app.extensions["stripe_gateways"] = working
    assert "View test data" not in page and TEST_BANNER not in page and test not in page
