"""The dashboard's "Test mode" switch: which mode's data the pages show.

The choice is kept in the session (default: live data, as in Stripe's Dashboard; so also in
development). Every page then shows, and every action touches, only objects of that mode:
payments, refunds, events, webhook endpoints and API keys. Without a test Stripe account
(``STRIPE_TEST_SECRET_KEY`` unset in production) there is no switch and the pages show live data.
"""

from __future__ import annotations

from flask import redirect, request, session, url_for
from werkzeug.wrappers import Response

from ..stripe_gateway import stripe_gateways
from . import bp

SESSION_KEY = "dashboard_livemode"


def test_mode_available() -> bool:
    """Whether a test Stripe account is configured (else there is no test data to switch to)."""
    return stripe_gateways().test is not None


def viewing_livemode() -> bool:
    """True while the signed-in user views live data, False for test data."""
    return bool(session.get(SESSION_KEY, True)) or not test_mode_available()


@bp.post("/mode")
def switch_mode() -> Response:
    """Switch between live and test data (form field ``livemode``: ``1`` or ``0``), then go back
    to the page the switch was on (a dashboard path only)."""
    session[SESSION_KEY] = request.form.get("livemode") != "0"
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/dashboard/") else url_for("dashboard.home"))
