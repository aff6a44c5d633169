"""The hosted checkout service: ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask

from .config import load_config
from .db import install_transaction_guard
from .extensions import configure_sqlite, db, limiter, migrate
from .security import register_nul_refusal, register_security_headers
from .stripe_gateway import StripeGateway, StripeGateways


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    Settings come from the environment (see :mod:`app.config`), then from ``config`` (tests pass
    overrides here). Raises :class:`app.config.ConfigError` when a production secret is missing.
    """
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_dotenv(Path.cwd() / ".env", override=False)  # a development convenience; real env wins
    environ = dict(os.environ)
    if config and "APP_ENV" in config:
        environ["APP_ENV"] = config["APP_ENV"]
    app.config.from_mapping(load_config(app.instance_path, environ))
    if config:
        app.config.from_mapping(config)
    register_extensions(app)
    register_blueprints(app)
    register_observability(app)
    register_security_headers(app)
    register_nul_refusal(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Database, migrations, rate limits, and the Stripe gateways (live and test accounts, one client
    each reused across requests)."""
    db.init_app(app)
    install_transaction_guard(db.session)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"))
    limiter.init_app(app)
    app.extensions["stripe_gateways"] = build_gateways(app.config)


def build_gateways(config: Any) -> StripeGateways:
    """The live account's gateway and the test account's: ``STRIPE_TEST_*`` settings, each
    defaulting to the live account's (``STRIPE_*``). In production test mode is off unless
    ``STRIPE_TEST_SECRET_KEY`` is set; elsewhere it runs on the live account's sandbox (one
    account: the sandbox does not keep accounts apart)."""
    live = StripeGateway(
        config["STRIPE_SECRET_KEY"],
        api_base=config["STRIPE_API_BASE"],
        webhook_secrets=config["STRIPE_WEBHOOK_SECRETS"],
        timeout=config["STRIPE_TIMEOUT"],
    )
    test_key = config.get("STRIPE_TEST_SECRET_KEY")
    if config["APP_ENV"] != "production":
        test_key = test_key or config["STRIPE_SECRET_KEY"]
    test = None
    if test_key:
        test = StripeGateway(
            test_key,
            api_base=config.get("STRIPE_TEST_API_BASE") or config["STRIPE_API_BASE"],
            webhook_secrets=config.get("STRIPE_TEST_WEBHOOK_SECRETS") or config["STRIPE_WEBHOOK_SECRETS"],
            timeout=config["STRIPE_TIMEOUT"],
        )
    return StripeGateways(live, test)


def register_blueprints(app: Flask) -> None:
    """The index page, the merchant API, the dashboard, the shopper pages, Stripe's webhook, and
    (development) the demo shop."""
    from . import api, checkout, dashboard, home, webhooks

    app.register_blueprint(home.bp)
    app.register_blueprint(api.bp)
    dashboard.init_app(app)  # sign-in sessions (Flask-Login), CSRF, cookie settings, the blueprint
    app.register_blueprint(checkout.bp)
    app.register_blueprint(webhooks.bp)
    if app.config["DEMO_STOREFRONT"]:
        from . import demo

        app.register_blueprint(demo.bp)


def register_observability(app: Flask) -> None:
    """Structured logs with request ids, ``/healthz``, ``/readyz``, ``/metrics``, ProxyFix
    (after the blueprints: it wraps the Stripe webhook view to count events)."""
    from . import observability

    observability.init_app(app)


def register_commands(app: Flask) -> None:
    """``flask merchants …``, ``flask payments …`` and friends."""
    from .cli import register

    register(app)
