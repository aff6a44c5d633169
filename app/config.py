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


#: Rate limits (``limits`` notation, e.g. ``"100 per second"``), each overridable by the environment
#: variable of the same name. Testing uses far higher ones so that only the tests about limits,
#: which set low limits themselves, ever see a 429.
RATE_LIMITS = {
    "RATELIMIT_API_READS": "100 per second",  # per API key, GET on /api/v1 (Stripe's live-mode rate)
    "RATELIMIT_API_WRITES": "100 per second",  # per API key, POST/DELETE on /api/v1
    "RATELIMIT_AUTH_FAILURES": "20 per minute",  # per client address: 401s on /api/v1
    "RATELIMIT_SUCCESS_PAGE": "20 per minute",  # per client address: each hit costs a Stripe call
    "RATELIMIT_PAY_PAGE": "60 per minute",  # per client address
}
TESTING_RATE_LIMIT = "100000 per minute"

#: Largest request body accepted (bytes); larger ones are answered 413 without being read.
MAX_CONTENT_LENGTH = 1024 * 1024


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
    sqlite_default = "sqlite:///" + str(Path(instance_path) / "checkout.sqlite3")
    return {
        **_rate_limit_settings(app_env, env),
        "MAX_CONTENT_LENGTH": MAX_CONTENT_LENGTH,
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or sqlite_default,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_recycle": 280},
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or "sk_test_sandbox",
        "STRIPE_WEBHOOK_SECRETS": _split(env.get("STRIPE_WEBHOOK_SECRET")) or ["whsec_sandbox"],
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or STRIPE_DEFAULT_API_BASE,
        "STRIPE_TIMEOUT": float(env.get("STRIPE_TIMEOUT", "10")),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        "DEMO_STOREFRONT": app_env == "development",
        "WEBHOOK_ALLOW_PRIVATE_URLS": env.get("WEBHOOK_ALLOW_PRIVATE_URLS") == "1",
        "WEBHOOK_RETRY_SCHEDULE": [int(s) for s in _split(env.get("WEBHOOK_RETRY_SCHEDULE"))]
        or [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 36000],
    }


def _rate_limit_settings(app_env: str, env: dict[str, str]) -> dict[str, Any]:
    """Flask-Limiter's settings. Production counts in Redis (shared by every web process;
    default ``redis://127.0.0.1:6379/0``), development and testing in memory. If Redis is down,
    each process falls back to counting in memory rather than failing requests; its calls time
    out after 0.5 s."""
    storage = env.get("RATELIMIT_STORAGE_URI") or (
        "redis://127.0.0.1:6379/0" if app_env == "production" else "memory://"
    )
    limits = {
        name: env.get(name) or (TESTING_RATE_LIMIT if app_env == "testing" else default)
        for name, default in RATE_LIMITS.items()
    }
    return {
        **limits,
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_STORAGE_OPTIONS": (
            {"socket_connect_timeout": 0.5, "socket_timeout": 0.5} if storage.startswith("redis") else {}
        ),
        "RATELIMIT_KEY_PREFIX": "checkout",
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }
