"""The migrations go down to nothing and up again on every database (SQLite, MariaDB,
PostgreSQL), on a database of their own next to the suite's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.conftest import recreate_database


def test_every_migration_downgrades_and_upgrades_again(database_url, tmp_path):
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        url = url.set(database=str(tmp_path / "migrations.sqlite3"))
    else:
        url = url.set(database=f"{url.database}_migrations")
    scratch = url.render_as_string(hide_password=False)
    recreate_database(scratch)
    application = create_app({"APP_ENV": "testing", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": scratch})
    with application.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert set(sa.inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()


def test_0011_makes_existing_rows_live_and_lets_each_mode_have_its_order(database_url, tmp_path):
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        url = url.set(database=str(tmp_path / "livemode.sqlite3"))
    else:
        url = url.set(database=f"{url.database}_livemode")
    scratch = url.render_as_string(hide_password=False)
    recreate_database(scratch)
    application = create_app({"APP_ENV": "testing", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": scratch})
    now = "2026-11-21 12:00:00"
    payment = {
        "merchant_id": "mer_1", "order_id": "ORD-1", "live_order_id": "ORD-1", "status": "open",
        "currency": "usd", "amount_total": 3000, "amount_refunded": 0, "line_items": "[]", "metadata": "{}",
        "success_url": "https://shop.example/ok", "cancel_url": "https://shop.example/no",
        "checkout_url": "https://pay.example/pay/x", "expires_at": now, "request_fingerprint": "f",
        "stripe_idempotency_key": "k", "created_at": now, "updated_at": now,
    }  # fmt: skip
    columns = ", ".join(payment)
    values = ", ".join(f":{name}" for name in payment)
    insert_payment = sa.text(f"INSERT INTO payments (id, {columns}) VALUES (:id, {values})")
    with application.app_context():
        upgrade(revision="0010")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO merchants (id, name, allowed_domains, created_at) "
                    "VALUES ('mer_1', 'A', '[]', :t)"
                ),
                {"t": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO api_keys (merchant_id, key_hash, prefix, created_at) "
                    "VALUES ('mer_1', 'h', 'mk_abcdefg', :t)"
                ),
                {"t": now},
            )
            conn.execute(insert_payment, {"id": "pay_old", **payment})
        upgrade()
        with db.engine.begin() as conn:
            assert conn.execute(sa.text("SELECT livemode FROM payments")).scalar_one() in (True, 1)
            assert conn.execute(sa.text("SELECT livemode FROM api_keys")).scalar_one() in (True, 1)
            # The same order may have a live payment in test mode too, but not a second live one.
            conn.execute(
                sa.text(
                    f"INSERT INTO payments (id, livemode, {columns}) VALUES ('pay_test', :live, {values})"
                ),
                {**payment, "live": False},
            )
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(insert_payment, {"id": "pay_twice", **payment})
        downgrade(revision="0010")  # test-mode rows go: kept, they would become live
        with db.engine.begin() as conn:
            assert conn.execute(sa.text("SELECT id FROM payments")).scalars().all() == ["pay_old"]
        db.engine.dispose()
