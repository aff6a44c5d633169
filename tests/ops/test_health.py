"""GET /healthz (alive) and GET /readyz (database, migrations at head, Stripe settings)."""

from __future__ import annotations

from app import create_app


def make_app(tmp_path, **config):
    return create_app(
        {"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/db.sqlite3", **config}
    )


def test_healthz_answers_without_touching_the_database(tmp_path):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_is_ready_on_the_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "stripe": "ok"},
    }


def test_readyz_names_missing_migrations(tmp_path):
    response = make_app(tmp_path).test_client().get("/readyz")  # a database never upgraded
    assert response.status_code == 503
    assert response.json["failing"] == ["migrations"]
    assert "flask db upgrade" in response.json["checks"]["migrations"]


def test_readyz_names_an_unreachable_database(tmp_path):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["database", "migrations"]
    assert response.json["checks"]["database"].startswith("unreachable")


def test_readyz_names_missing_stripe_settings(app, client):
    saved = app.config["STRIPE_SECRET_KEY"]
    app.config["STRIPE_SECRET_KEY"] = ""
    try:
        response = client.get("/readyz")
    finally:
        app.config["STRIPE_SECRET_KEY"] = saved
    assert response.status_code == 503
    assert response.json["failing"] == ["stripe"]
    assert response.json["checks"]["stripe"] == "missing STRIPE_SECRET_KEY"
