"""Health checks for load balancers and orchestrators.

* ``GET /healthz``: the process is alive and answering (touches nothing else). Use it as the
  liveness probe: failing it means "restart me".
* ``GET /readyz``: this process can serve traffic: the database answers, its schema is at the
  newest migration, and the Stripe settings are present. ``200 {"status": "ready", "checks":
  {…}}``, or ``503`` with ``"status": "unavailable"``, every check's result and ``failing``
  naming the checks that failed. Use it as the readiness probe: failing it means "send no
  traffic here for now".
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, jsonify

from ..extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """``200 {"status": "ok"}`` while the process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """``200`` when every readiness check passes, else ``503`` naming the failing ones."""
    checks = {"database": "ok", "migrations": "ok", "stripe": _stripe_settings()}
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = _current_revisions(conn)
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(getattr(exc, 'orig', None) or exc).__name__}"
        checks["migrations"] = "unknown: the database is unreachable"
    else:
        heads = set(_script_heads())
        if current != heads:
            have = ", ".join(sorted(current)) or "none"
            checks["migrations"] = f"at {have}, head is {', '.join(sorted(heads))}: run `flask db upgrade`"
    failing = sorted(name for name, result in checks.items() if result != "ok")
    if failing:
        return jsonify(status="unavailable", checks=checks, failing=failing), 503
    return jsonify(status="ready", checks=checks), 200


def _current_revisions(conn: sa.Connection) -> set[str]:
    """The revisions the database is at (read directly: alembic's MigrationContext logs at INFO
    on every call, which a probe every few seconds would turn into noise)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def _stripe_settings() -> str:
    config = current_app.config
    missing = [
        name
        for name, value in (
            ("STRIPE_SECRET_KEY", config.get("STRIPE_SECRET_KEY")),
            ("STRIPE_WEBHOOK_SECRET", config.get("STRIPE_WEBHOOK_SECRETS")),
            ("STRIPE_API_BASE", config.get("STRIPE_API_BASE")),
        )
        if not value
    ]
    return "ok" if not missing else "missing " + ", ".join(missing)


def _script_heads() -> tuple[str, ...]:
    """The newest revision(s) in ``migrations/`` (read once per process)."""
    heads = current_app.extensions.get("migration_heads")
    if heads is None:
        config = Config()
        config.set_main_option("script_location", str(Path(current_app.extensions["migrate"].directory)))
        heads = tuple(ScriptDirectory.from_config(config).get_heads())
        current_app.extensions["migration_heads"] = heads
    return heads  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    """Serve ``/healthz`` and ``/readyz``."""
    app.register_blueprint(bp)
