"""Settings read from the environment (and from a ``.env`` file, if present, in development).

``APP_ENV`` selects the profile: ``production`` (the default, so that a forgotten setting fails
loudly), ``development`` (local defaults: SQLite file, sandbox keys) or ``testing``.
In production a missing secret stops start-up with :class:`ConfigError`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

STRIPE_DEFAULT_API_BASE = "https://api.stripe.com"

#: Settings that production refuses to start without.
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message names it."""


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from ``environ`` (default ``os.environ``).

    Returns a dict of upper-case settings. Raises :class:`ConfigError` when ``APP_ENV`` is
    ``production`` and any of :data:`REQUIRED_IN_PRODUCTION` is missing.
    """
    env = dict(os.environ if environ is None else environ)
    app_env = env.get("APP_ENV", "production")
    if app_env not in ("production", "development", "testing"):
        raise ConfigError(f"APP_ENV must be production, development or testing, not {app_env!r}.")
    if app_env == "production":
        missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name)]
        if missing:
            raise ConfigError(
                "Missing required setting(s) for production: "
                + ", ".join(missing)
                + ". Set them in the environment, or set APP_ENV=development for local defaults."
            )
    guard = env.get("TRANSACTION_GUARD") or ("raise" if app_env == "testing" else "log")
    if guard not in ("raise", "log", "off"):
        raise ConfigError(f"TRANSACTION_GUARD must be raise, log or off, not {guard!r}.")
    sqlite_default = "sqlite:///" + str(Path(instance_path) / "checkout.sqlite3")
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or sqlite_default,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_recycle": 280},
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or "sk_test_sandbox",
        "STRIPE_WEBHOOK_SECRETS": _split(env.get("STRIPE_WEBHOOK_SECRET")) or ["whsec_sandbox"],
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or STRIPE_DEFAULT_API_BASE,
        # Read timeout per Stripe attempt, seconds: with the gateway's one retry a create answers
        # within about 10 s (app.stripe_gateway).
        "STRIPE_TIMEOUT": float(env.get("STRIPE_TIMEOUT", "3")),
        # What a network call inside an open database transaction does: raise, log or off (app.db).
        "TRANSACTION_GUARD": guard,
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        "DEMO_STOREFRONT": app_env == "development",
        "WEBHOOK_ALLOW_PRIVATE_URLS": env.get("WEBHOOK_ALLOW_PRIVATE_URLS") == "1",
        "WEBHOOK_RETRY_SCHEDULE": [int(s) for s in _split(env.get("WEBHOOK_RETRY_SCHEDULE"))]
        or [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 36000],
    }
