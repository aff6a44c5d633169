"""The migrations go down to nothing and up again on every database (SQLite, MariaDB,
PostgreSQL), on a database of their own next to the suite's."""

from __future__ import annotations

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
