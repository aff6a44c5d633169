"""Sign-in, sessions, CSRF, roles and merchant scoping of the dashboard (issue 13, §1 and §3)."""

from __future__ import annotations

import time

import sqlalchemy as sa
from itsdangerous import TimestampSigner

from app.db import unit_of_work
from app.extensions import db
from app.models import ApiKey, Refund
from app.users import disable_user
from tests.dashboard.support import PASSWORD


def test_signin_page_has_labelled_fields_and_button(dashboard):
    page = dashboard().get("/dashboard/signin").get_data(as_text=True)
    assert '<label for="email">Email</label>' in page
    assert '<label for="password">Password</label>' in page
    assert ">Sign in</button>" in page


def test_pages_need_a_signed_in_user(dashboard):
    response = dashboard().get("/dashboard/payments")
    assert response.status_code == 302
    assert "/dashboard/signin" in response.headers["Location"]


def test_sign_in_then_out(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    client = dashboard(user)
    assert client.get("/dashboard/").status_code == 200
    assert client.post("/dashboard/signout").status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    wrong = dashboard().sign_in(user.email, "not the password at all")
    unknown = dashboard().sign_in("nobody@shop.example", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = "That email and password do not match an active account."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_failed_signins_are_limited_per_account(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    client = dashboard()
    for _ in range(5):
        assert client.sign_in(user.email, "wrong password!!").status_code == 401
    blocked = client.sign_in(user.email)  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed sign-ins. Wait 15 minutes" in blocked.get_data(as_text=True)
    # An unknown email is limited the same way, so the limit does not reveal who has an account.
    for _ in range(5):
        assert client.sign_in("ghost@shop.example", "wrong password!!").status_code in (401, 429)
    assert client.sign_in("ghost@shop.example", "wrong password!!").status_code == 429


def test_failed_signins_are_limited_per_address(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    client = dashboard()
    for n in range(5):
        assert client.sign_in(f"guess{n}@shop.example", "wrong password!!").status_code == 401
    assert client.sign_in(user.email).status_code == 429


def test_successful_signins_are_not_counted(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    for _ in range(7):
        assert dashboard().sign_in(user.email).status_code == 302


def test_a_form_without_its_csrf_token_is_refused(app, dashboard, merchant, make_user):
    client = dashboard(make_user(merchant.id))
    response = client.post("/dashboard/developers/api-keys", with_token=False)
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1  # the fixture's


def test_signin_without_csrf_token_is_refused(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    response = dashboard().post(
        "/dashboard/signin", {"email": user.email, "password": PASSWORD}, with_token=False
    )
    assert response.status_code == 400


def test_viewer_sees_no_actions_and_a_forged_refund_is_forbidden(
    app, dashboard, merchant, make_user, make_payment
):
    payment_id = make_payment(merchant.id)
    viewer = dashboard(make_user(merchant.id, role="viewer"))
    page = viewer.get(f"/dashboard/payments/{payment_id}").get_data(as_text=True)
    assert "Refund…" not in page and "Expire payment" not in page
    forged = viewer.post(
        f"/dashboard/payments/{payment_id}/refund", {"reason": "duplicate", "confirm": "yes"}
    )
    assert forged.status_code == 403
    assert viewer.post("/dashboard/developers/api-keys").status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1


def test_a_dashboard_refund_names_the_user_on_the_timeline(app, dashboard, merchant, make_user, make_payment):
    from app.models import TimelineEntry

    payment_id = make_payment(merchant.id)
    user = make_user(merchant.id)
    form = {"reason": "duplicate", "confirm": "yes"}
    dashboard(user).post(f"/dashboard/payments/{payment_id}/refund", form)
    with app.app_context():
        entry = db.session.scalars(
            sa.select(TimelineEntry).where(
                TimelineEntry.payment_id == payment_id, TimelineEntry.type == "refund.requested"
            )
        ).one()
        assert entry.source == "dashboard" and entry.data["user_id"] == user.id


def test_another_merchants_objects_are_404(app, dashboard, make_merchant, make_user, make_payment):
    a, b = make_merchant(name="A"), make_merchant(name="B")
    b_payment = make_payment(b.id)
    client = dashboard(make_user(a.id))
    assert client.get(f"/dashboard/payments/{b_payment}").status_code == 404
    assert client.post(f"/dashboard/payments/{b_payment}/refund", {"reason": "duplicate"}).status_code == 404
    with app.app_context():
        b_key = db.session.scalars(sa.select(ApiKey.id).where(ApiKey.merchant_id == b.id)).one()
    assert client.post(f"/dashboard/developers/api-keys/{b_key}/revoke").status_code == 404
    with app.app_context():
        assert db.session.get(ApiKey, b_key).revoked_at is None
    assert b_payment not in client.get("/dashboard/payments").get_data(as_text=True)


def test_a_disabled_users_session_ends(app, dashboard, merchant, make_user):
    user = make_user(merchant.id)
    client = dashboard(user)
    with app.app_context(), unit_of_work():
        disable_user(user.email)
    assert client.get("/dashboard/").status_code == 302
    assert dashboard().sign_in(user.email).status_code == 401


def test_session_cookie_is_httponly_and_lax(dashboard, merchant, make_user):
    user = make_user(merchant.id)
    client = dashboard()
    response = client.sign_in(user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing profile; production sets it (test below)


def test_production_session_cookie_is_secure(monkeypatch):
    from app import create_app

    for name in ("SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "set")
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pay.example")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_session_expires_after_inactivity(app, dashboard, merchant, make_user, monkeypatch):
    client = dashboard(make_user(merchant.id))
    assert client.get("/dashboard/").status_code == 200
    idle = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    later = int(time.time() + idle + 5)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert client.get("/dashboard/").status_code == 302
