"""100,000 payments for one merchant on MariaDB and on PostgreSQL: the payments list and searches
stay a handful of indexed queries. Prints the time of each page (a benchmark figure, not an
assertion)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.dashboard.queries import PaymentFilters, daily_figures_query, newest_first
from app.extensions import db
from app.models import Payment, utcnow

pytestmark = pytest.mark.server_db

ROWS = 100_000
STATUSES = ("succeeded", "succeeded", "succeeded", "open", "failed", "expired", "refunded", "processing")


def bulk_insert(merchant_id: str) -> None:
    now = utcnow()
    columns = {
        "merchant_id": merchant_id,
        "currency": "usd",
        "amount_refunded": 0,
        "line_items": [{"name": "T-shirt", "unit_amount": 1500, "quantity": 2}],
        "metadata": {},
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
        "checkout_url": "http://127.0.0.1/pay/x",
        "request_fingerprint": "f" * 64,
        "stripe_idempotency_key": "k",
    }
    table = Payment.__table__
    for start in range(0, ROWS, 5000):
        rows = []
        for n in range(start, min(start + 5000, ROWS)):
            created = now - timedelta(seconds=(ROWS - n) * 30)  # about 35 days
            status = STATUSES[n % len(STATUSES)]
            rows.append(
                {
                    **columns,
                    "id": f"pay_{n:024x}",
                    "order_id": f"ORD-{n:06d}",
                    "live_order_id": None if status in ("failed", "expired") else f"ORD-{n:06d}",
                    "status": status,
                    "amount_total": 1000 + n % 5000,
                    "customer_email": f"shopper{n % 20000}@example.com",
                    "expires_at": created + timedelta(hours=1),
                    "created_at": created,
                    "updated_at": created,
                }
            )
        db.session.execute(sa.insert(table), rows)
        db.session.commit()


def explain(query: sa.Select) -> list[dict]:
    """MariaDB's EXPLAIN rows; on PostgreSQL the nodes of the plan tree (EXPLAIN (FORMAT JSON)),
    depth first."""
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        (document,) = db.session.execute(sa.text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
        nodes, stack = [], [document["Plan"]]
        while stack:
            node = stack.pop()
            nodes.append(node)
            stack.extend(reversed(node.get("Plans", [])))
        return nodes
    return [dict(row._mapping) for row in db.session.execute(sa.text("EXPLAIN " + sql))]


def analyze_payments() -> None:
    """Fresh statistics after the bulk load (PostgreSQL: and the visibility map, without which
    no scan can be index-only); VACUUM refuses to run inside a transaction."""
    db.engine.dispose()  # and a fresh pool
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE payments"))
        return
    with db.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE TABLE payments"))


def test_lists_and_searches_use_indexes_at_100k_payments(app, merchant, make_user, dashboard, capsys):
    with app.app_context():
        bulk_insert(merchant.id)
        analyze_payments()
    client = dashboard(make_user(merchant.id))

    cases = {
        "list, newest first": {},
        "list, status=failed": {"status": "failed"},
        "list, page 50": {"starting_after": f"pay_{ROWS - 20 * 50:024x}"},
        "search by order id": {"q": "ORD-012345"},
        "search by email": {"q": "shopper77@example.com"},
        "search by payment id": {"q": f"pay_{4242:024x}"},
    }
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    figures = {}
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        for name, args in cases.items():
            statements.clear()
            started = time.perf_counter()
            response = client.get("/dashboard/payments", query_string=args)
            figures[name] = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, name
            # the session's user, its merchant (header), (the cursor row), one page: nothing per row
            assert len(statements) <= 4, (name, statements)
        statements.clear()
        home_started = time.perf_counter()
        assert client.get("/dashboard/").status_code == 200
        figures["home (30 days of figures)"] = (time.perf_counter() - home_started) * 1000
        assert len(statements) <= 5, statements  # user, merchant, figures, stuck, endpoints
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", count)

    page = client.get("/dashboard/payments", query_string={"q": "ORD-012345"}).get_data(as_text=True)
    assert f"pay_{12345:024x}" in page

    with app.app_context():
        plans = {
            "list": explain(newest_first(PaymentFilters().query(merchant.id, True)).limit(21)),
            "status": explain(
                newest_first(PaymentFilters(status="failed").query(merchant.id, True)).limit(21)
            ),
            "order id": explain(
                newest_first(PaymentFilters(q="ORD-012345").query(merchant.id, True)).limit(21)
            ),
            "home figures": explain(daily_figures_query(merchant.id, utcnow() - timedelta(days=30), True)),
            "email": explain(
                newest_first(PaymentFilters(q="shopper77@example.com").query(merchant.id, True)).limit(21)
            ),
        }
        database = "PostgreSQL" if db.engine.dialect.name == "postgresql" else "MariaDB"
    expected = {
        "list": {"ix_payments_merchant_created", "ix_payments_merchant_status_created"},
        # With LIMIT 21 and a common status, walking (merchant, created_at) newest first and
        # skipping other statuses is as good as the status index: the optimiser may pick either.
        "status": {"ix_payments_merchant_status_created", "ix_payments_merchant_created"},
        "order id": {"ix_payments_merchant_order", "ix_payments_order_id"},
        "email": {"ix_payments_merchant_email"},
    }
    if database == "PostgreSQL":
        assert_postgresql_plans(plans, expected)
    else:
        assert_mariadb_plans(plans, expected)
    with capsys.disabled():
        print(f"\nDashboard at {ROWS:,} payments ({database}, test client, includes rendering):")
        for name, ms in figures.items():
            print(f"  {name:<28} {ms:7.1f} ms")
        for name, plan in plans.items():
            if database == "PostgreSQL":
                shown = ", ".join(f"{n['Node Type']} {n.get('Index Name', '')}".strip() for n in plan)
                print(f"  EXPLAIN {name:<10} {shown}")
            else:
                row = plan[0]
                print(f"  EXPLAIN {name:<10} key={row['key']} rows={row['rows']} extra={row['Extra']}")


def assert_mariadb_plans(plans: dict[str, list[dict]], expected: dict[str, set[str]]) -> None:
    for name, plan in plans.items():
        (row,) = plan
        if name == "home figures":
            assert row["key"] == "ix_payments_merchant_figures" and "Using index" in row["Extra"], row
            continue
        assert row["key"] in expected[name], (name, row)
        assert row["type"] != "ALL", (name, row)
        assert "filesort" not in (row["Extra"] or "") or name in ("order id", "email"), (name, row)


def assert_postgresql_plans(plans: dict[str, list[dict]], expected: dict[str, set[str]]) -> None:
    """The same expectations in PostgreSQL's terms: the expected index is scanned, the payments
    table is never read whole (``Seq Scan``), the lists come out of the index in order (no
    ``Sort``; the searches may sort their few rows), and the home figures are read from the
    covering index alone (``Index Only Scan``)."""
    for name, plan in plans.items():
        used = {node.get("Index Name") for node in plan} - {None}
        kinds = {node["Node Type"] for node in plan}
        assert "Seq Scan" not in kinds, (name, plan)
        if name == "home figures":
            assert any(
                node["Node Type"] == "Index Only Scan"
                and node["Index Name"] == "ix_payments_merchant_figures"
                for node in plan
            ), (name, plan)
            continue
        assert used & expected[name], (name, plan)
        assert "Sort" not in kinds or name in ("order id", "email"), (name, plan)
