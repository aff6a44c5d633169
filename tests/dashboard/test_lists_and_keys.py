"""Payments list (filters, search, cursor pages, CSV), home figures, API keys, the users CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from app.dashboard.forms import minor_units
from app.errors import InvalidRequest
from app.extensions import db
from app.models import ApiKey, User
from tests.dashboard.support import days_ago


@pytest.fixture
def admin(dashboard, merchant, make_user):
    return dashboard(make_user(merchant.id))


def test_search_by_order_id_email_and_payment_id(admin, merchant, make_payment):
    wanted = make_payment(merchant.id, order_id="ORD-42", customer_email="grace@example.com")
    other = make_payment(merchant.id, order_id="ORD-43", customer_email="linus@example.com")
    for q in ("ORD-42", "Grace@Example.com", wanted):
        page = admin.get("/dashboard/payments", query_string={"q": q}).get_data(as_text=True)
        assert wanted in page and other not in page, q


def test_filters_by_status_currency_and_created_range(admin, merchant, make_payment):
    old = make_payment(merchant.id, order_id="OLD", created_at=days_ago(10))
    failed = make_payment(merchant.id, order_id="FAILED", status="failed")
    euro = make_payment(merchant.id, order_id="EURO", currency="eur")
    page = admin.get("/dashboard/payments", query_string={"status": "failed"}).get_data(as_text=True)
    assert failed in page and old not in page and euro not in page
    page = admin.get("/dashboard/payments", query_string={"currency": "EUR"}).get_data(as_text=True)
    assert euro in page and failed not in page and "€30.00" in page
    start = days_ago(11).date().isoformat()
    end = days_ago(9).date().isoformat()
    page = admin.get("/dashboard/payments", query_string={"created_from": start, "created_to": end})
    assert old in page.get_data(as_text=True) and euro not in page.get_data(as_text=True)
    bad = admin.get("/dashboard/payments", query_string={"created_from": "yesterday"})
    assert bad.status_code == 400 and "created_from must be a date" in bad.get_data(as_text=True)


def test_cursor_pages_newest_first(admin, merchant, make_payment):
    ids = [make_payment(merchant.id, order_id=f"O-{n:02d}", created_at=days_ago(25 - n)) for n in range(25)]
    first = admin.get("/dashboard/payments").get_data(as_text=True)
    assert ids[-1] in first and ids[5] in first and ids[4] not in first  # 20 a page
    assert first.index(ids[-1]) < first.index(ids[-2])
    second = admin.get("/dashboard/payments", query_string={"starting_after": ids[5]}).get_data(as_text=True)
    assert all(i in second for i in ids[:5]) and ids[5] not in second


def test_list_query_count_does_not_grow_with_rows(app, admin, merchant, make_payment):
    def selects() -> int:
        statements: list[str] = []
        with app.app_context():
            listen = lambda *args: statements.append(args[2])  # noqa: E731
            sa.event.listen(db.engine, "before_cursor_execute", listen)
            try:
                assert admin.get("/dashboard/payments").status_code == 200
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", listen)
        return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT"))

    make_payment(merchant.id)
    few = selects()
    for n in range(15):
        make_payment(merchant.id, order_id=f"B-{n}")
    assert selects() == few


def test_csv_export_of_the_filtered_list(admin, merchant, make_payment):
    make_payment(merchant.id, order_id="=HYPERLINK(1)", status="failed")
    make_payment(merchant.id, order_id="KEEP", amount_total=1234)
    response = admin.get("/dashboard/payments.csv", query_string={"status": "succeeded"})
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["order_id"], r["amount_total"], r["status"]) for r in rows] == [("KEEP", "1234", "succeeded")]
    everything = list(
        csv.DictReader(io.StringIO(admin.get("/dashboard/payments.csv").get_data(as_text=True)))
    )
    assert {r["order_id"] for r in everything} == {"KEEP", "'=HYPERLINK(1)"}  # no formula for spreadsheets


def test_home_shows_volume_success_rate_and_stuck_payments(admin, merchant, make_payment):
    make_payment(merchant.id, amount_total=5000)
    make_payment(merchant.id, currency="jpy", amount_total=1500)
    make_payment(merchant.id, status="failed", order_id="F")
    stuck = make_payment(merchant.id, status="processing", order_id="STUCK", created_at=days_ago(0.5))
    page = admin.get("/dashboard/").get_data(as_text=True)
    assert "$50.00" in page and "¥1,500" in page
    assert "66.7%" in page  # 2 paid of 3 decided; processing has not decided
    assert stuck in page
    assert page.count("<svg") == 3  # usd volume, jpy volume, count


def test_refund_needs_a_confirmation_step(app, admin, merchant, make_payment):
    payment_id = make_payment(merchant.id)
    page = admin.post(f"/dashboard/payments/{payment_id}/refund", {"amount": "12.50", "reason": "duplicate"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Refund $12.50?" in text and "Confirm refund" in text
    bad = admin.post(f"/dashboard/payments/{payment_id}/refund", {"amount": "12.505", "reason": "duplicate"})
    assert bad.status_code == 400 and "at most 2 decimals" in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10", "usd", 1000),
        ("1,000.25", "usd", 100025),
        ("1500", "jpy", 1500),
        ("1.23", "kwd", 1230),
        ("", "usd", None),
    ],
)
def test_minor_units(text, currency, minor):
    assert minor_units(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"), [("1.5", "jpy"), ("-1", "usd"), ("abc", "usd"), ("nan", "usd")]
)
def test_minor_units_refuses(text, currency):
    with pytest.raises(InvalidRequest):
        minor_units(text, currency)


def test_api_key_created_once_used_and_revoked(app, client, admin, merchant):
    page = admin.post("/dashboard/developers/api-keys").get_data(as_text=True)
    key = page.split('id="secret-value" readonly value="')[1].split('"')[0]
    assert key.startswith("mk_")
    assert key not in admin.get("/dashboard/developers/api-keys").get_data(as_text=True)  # shown once
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/payments", headers=headers).status_code == 200
    with app.app_context():
        row = db.session.scalars(sa.select(ApiKey).where(ApiKey.prefix == key[:12])).one()
        assert row.last_used_at is not None
        first_use, key_id = row.last_used_at, row.id
    assert client.get("/api/v1/payments", headers=headers).status_code == 200
    with app.app_context():
        assert db.session.get(ApiKey, key_id).last_used_at == first_use  # written at most once a minute
    assert admin.post(f"/dashboard/developers/api-keys/{key_id}/revoke").status_code == 302
    assert client.get("/api/v1/payments", headers=headers).status_code == 401


def test_a_rolled_key_that_expired_shows_expired_without_a_revoke_button(app, admin, merchant):
    from app.db import unit_of_work
    from app.merchants import roll_api_key

    with app.app_context(), unit_of_work():
        old = db.session.scalars(sa.select(ApiKey).where(ApiKey.merchant_id == merchant.id)).first()
        roll_api_key(merchant.id, old.id, 0)  # the old key stops at once
        prefix = old.prefix
    page = admin.get("/dashboard/developers/api-keys").get_data(as_text=True)
    row = page.split(prefix)[1].split("</tr>")[0]
    assert "expired" in row and "Revoke" not in row


def test_users_cli(app, merchant):
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["users", "create", "--merchant", merchant.id, "--email", "Ann@Shop.example", "--role", "admin"]
    )
    assert made.exit_code == 0, made.output
    out = json.loads(made.output)
    assert out["email"] == "ann@shop.example" and len(out["password"]) >= 16
    piped = runner.invoke(
        args=["users", "create", "--merchant", merchant.id, "--email", "bo@shop.example", "--password-stdin"],
        input="a long enough password\n",
    )
    assert piped.exit_code == 0 and "password" not in json.loads(piped.output)
    again = runner.invoke(args=["users", "create", "--merchant", merchant.id, "--email", "ann@shop.example"])
    assert again.exit_code != 0 and "already exists" in again.output
    nobody = runner.invoke(args=["users", "create", "--merchant", "mer_nope", "--email", "x@shop.example"])
    assert nobody.exit_code != 0 and "No such merchant" in nobody.output
    assert runner.invoke(args=["users", "disable", "bo@shop.example"]).exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert "ann@shop.example\tadmin\tactive" in listing and "bo@shop.example\tviewer\tdisabled" in listing
    with app.app_context():
        stored = db.session.scalars(
            sa.select(User.password_hash).where(User.email == "ann@shop.example")
        ).one()
        assert stored.startswith("$argon2id$") and out["password"] not in stored
