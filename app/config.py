"""Settings read from the environment (and from a ``.env`` file in the working directory).

:data:`SETTINGS` is the one list of settings, with each one's default and meaning; the README's
settings table, ``.env.example`` and ``flask --app wsgi config show`` follow it.

``APP_ENV`` selects the profile: ``production`` (the default, so that a forgotten setting fails
loudly), ``development`` (local defaults: SQLite file, the Stripe sandbox on 127.0.0.1:12111,
fixed development secrets) or ``testing``. In production a missing secret, or a
``PUBLIC_BASE_URL`` that is not ``https``, stops start-up with :class:`ConfigError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

STRIPE_DEFAULT_API_BASE = "https://api.stripe.com"
#: Where ``python -m sandbox`` listens in development (``Procfile.dev``).
SANDBOX_API_BASE = "http://127.0.0.1:12111"
#: Development and tests only: one fixed value, so that the web process, the worker and every
#: ``flask`` command derive the same merchant webhook secrets.
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"

#: Settings that production refuses to start without.
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")

DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 36000]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its ``name``, the Flask config ``key`` it fills, its default
    (as documented text), what it means, and whether it is a secret (masked by ``config show``)."""

    name: str
    key: str
    default: str
    meaning: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "APP_ENV", "APP_ENV", "production",
        "`production`, `development` (local defaults, demo shop) or `testing`",
    ),
    Setting(
        "SECRET_KEY", "SECRET_KEY", "required in production; a fixed development value otherwise",
        "Flask's secret; merchants' webhook signing secrets are derived from it, so every web and "
        "worker process needs the same value", secret=True,
    ),
    Setting(
        "DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "SQLite file `instance/checkout.sqlite3`",
        "`mysql+pymysql://user:pass@host/db` or `postgresql+psycopg://user:pass@host/db`", secret=True,
    ),
    Setting(
        "STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY", "required in production; `sk_test_sandbox` otherwise",
        "the live-mode account: `sk_live_…` (or `sk_test_…` to run everything against a test account)",
        secret=True,
    ),
    Setting(
        "STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRETS",
        "required in production; `whsec_sandbox` otherwise",
        "`whsec_…`; a comma-separated list is accepted while rotating", secret=True,
    ),
    Setting(
        "STRIPE_API_BASE", "STRIPE_API_BASE", f"`{STRIPE_DEFAULT_API_BASE}`; the sandbox in development",
        "where Stripe calls go",
    ),
    Setting(
        "STRIPE_TEST_SECRET_KEY", "STRIPE_TEST_SECRET_KEY",
        "unset in production (test mode off); `STRIPE_SECRET_KEY` (the sandbox) otherwise",
        "the test-mode account (`sk_test_…`/`rk_test_…`): payments made with `mk_test_…` keys",
        secret=True,
    ),
    Setting(
        "STRIPE_TEST_WEBHOOK_SECRET", "STRIPE_TEST_WEBHOOK_SECRETS",
        "required in production with `STRIPE_TEST_SECRET_KEY`; `STRIPE_WEBHOOK_SECRET` otherwise",
        "`whsec_…` of the test-mode account's webhook endpoint; comma-separated while rotating",
        secret=True,
    ),
    Setting(
        "STRIPE_TEST_API_BASE", "STRIPE_TEST_API_BASE", "`STRIPE_API_BASE`",
        "where the test-mode account's Stripe calls go",
    ),
    Setting(
        "STRIPE_TIMEOUT", "STRIPE_TIMEOUT", "3",
        "read timeout of one Stripe attempt, seconds (1 s to connect, one retry): a create answers "
        "within about 10 s, else 502 with the payment `pending`",
    ),
    Setting(
        "TRANSACTION_GUARD", "TRANSACTION_GUARD", "`raise` in testing, `log` otherwise",
        "what a Stripe call or merchant-webhook send inside an open database transaction does: "
        "`raise`, `log` (an error with the stack) or `off`",
    ),
    Setting(
        "PUBLIC_BASE_URL", "PUBLIC_BASE_URL", "required (`https`) in production; from the request otherwise",
        "our external address for `checkout_url` and the URLs handed to Stripe",
    ),
    Setting(
        "TRUSTED_PROXIES", "TRUSTED_PROXIES", "0",
        "how many proxies in front of the app set `X-Forwarded-For/-Proto/-Host/-Port` "
        "(Werkzeug's ProxyFix); 1 behind one TLS-terminating proxy",
    ),
    Setting(
        "METRICS_TOKEN", "METRICS_TOKEN", "unset: `/metrics` answers loopback clients only",
        "a bearer token that opens `GET /metrics` to a remote Prometheus", secret=True,
    ),
    Setting(
        "WORKER_METRICS_BIND", "WORKER_METRICS_BIND", "unset: off",
        "`host:port` where `flask worker` serves its own `/metrics` (delivery attempts, jobs)",
    ),
    Setting(
        "LOG_FORMAT", "LOG_FORMAT", "`json` in production, `console` otherwise",
        "`json` (one object per line) or `console` (readable lines)",
    ),
    Setting("LOG_LEVEL", "LOG_LEVEL", "INFO", "the lowest level logged (the Stripe SDK logs at WARNING)"),
    Setting(
        "WEBHOOK_RETRY_SCHEDULE", "WEBHOOK_RETRY_SCHEDULE", "≈ 3 days in 13 attempts",
        "seconds between merchant-webhook attempts, comma-separated",
    ),
    Setting(
        "WEBHOOK_ALLOW_PRIVATE_URLS", "WEBHOOK_ALLOW_PRIVATE_URLS", "0",
        "`1` allows `http` and loopback (127.0.0.0/8, ::1) webhook URLs: development and tests "
        "only; private networks stay refused",
    ),
    Setting(
        "WEBHOOK_ATTEMPT_DEADLINE", "WEBHOOK_ATTEMPT_DEADLINE", "10",
        "seconds one merchant-webhook attempt may take in all (connect, TLS, request, answer)",
    ),
    Setting(
        "WORKER_CONCURRENCY", "WORKER_CONCURRENCY", "4",
        "messages one worker delivers at once (threads, each with its own database connection)",
    ),
    Setting(
        "EVENT_BROKER_URL", "EVENT_BROKER_URL", "unset: off",
        "`amqp://user:pass@host:5672//` (RabbitMQ) or `nats://host:4222` (NATS JetStream): the "
        "worker also publishes every merchant event there", secret=True,
    ),
    Setting(
        "EVENT_BROKER_EXCHANGE", "EVENT_BROKER_EXCHANGE", "`payments`",
        "the AMQP topic exchange (the NATS subjects are `payments.<event type>` in stream `PAYMENTS`)",
    ),
    Setting(
        "EVENT_BROKER_TIMEOUT", "EVENT_BROKER_TIMEOUT", "5",
        "seconds a broker connect or publish may take before the worker backs off",
    ),
)  # fmt: skip


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


def _int(env: dict[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {env[name]!r}.") from None


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from ``environ`` (default ``os.environ``).

    Returns a dict of upper-case settings (keys are :attr:`Setting.key`). Raises
    :class:`ConfigError` when ``APP_ENV`` is ``production`` and any of
    :data:`REQUIRED_IN_PRODUCTION` is missing or ``PUBLIC_BASE_URL`` is not an ``https`` URL,
    or when a setting is malformed; the message names the setting.
    """
    env = dict(os.environ if environ is None else environ)
    app_env = env.get("APP_ENV", "production")
    if app_env not in ("production", "development", "testing"):
        raise ConfigError(f"APP_ENV must be production, development or testing, not {app_env!r}.")
    production = app_env == "production"
    if production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name)]
        if missing:
            raise ConfigError(
                "Missing required setting(s) for production: "
                + ", ".join(missing)
                + ". Set them in the environment or in .env (see .env.example); for local "
                "development, `make run` (or `make .env`) writes a development .env."
            )
    public_base_url = (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None
    if production and (public_base_url is None or urlsplit(public_base_url).scheme != "https"):
        raise ConfigError(
            "PUBLIC_BASE_URL must be the service's https address in production (Stripe redirects "
            f"shoppers to it), not {public_base_url!r}."
        )
    log_format = env.get("LOG_FORMAT") or ("json" if production else "console")
    if log_format not in ("json", "console"):
        raise ConfigError(f"LOG_FORMAT must be json or console, not {log_format!r}.")
    guard = env.get("TRANSACTION_GUARD") or ("raise" if app_env == "testing" else "log")
    if guard not in ("raise", "log", "off"):
        raise ConfigError(f"TRANSACTION_GUARD must be raise, log or off, not {guard!r}.")
    test_key = env.get("STRIPE_TEST_SECRET_KEY") or None
    if production and test_key and not test_key.startswith(("sk_test_", "rk_test_")):
        raise ConfigError("STRIPE_TEST_SECRET_KEY must be a test-mode key (sk_test_… or rk_test_…).")
    if production and test_key and not env.get("STRIPE_TEST_WEBHOOK_SECRET"):
        raise ConfigError("STRIPE_TEST_WEBHOOK_SECRET is required with STRIPE_TEST_SECRET_KEY in production.")
    api_base = env.get("STRIPE_API_BASE") or (STRIPE_DEFAULT_API_BASE if production else SANDBOX_API_BASE)
    sqlite_default = "sqlite:///" + str(Path(instance_path) / "checkout.sqlite3")
    return {
        **_rate_limit_settings(app_env, env),
        "MAX_CONTENT_LENGTH": MAX_CONTENT_LENGTH,
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or sqlite_default,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_recycle": 280},
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or "sk_test_sandbox",
        "STRIPE_WEBHOOK_SECRETS": _split(env.get("STRIPE_WEBHOOK_SECRET")) or ["whsec_sandbox"],
        "STRIPE_API_BASE": api_base,
        # Test mode (mk_test_ keys): unset values fall back to the live account's outside
        # production, and leave test mode off in production (app.build_gateways).
        "STRIPE_TEST_SECRET_KEY": test_key,
        "STRIPE_TEST_WEBHOOK_SECRETS": _split(env.get("STRIPE_TEST_WEBHOOK_SECRET")),
        "STRIPE_TEST_API_BASE": env.get("STRIPE_TEST_API_BASE") or None,
        # Read timeout per Stripe attempt, seconds: with the gateway's one retry a create answers
        # within about 10 s (app.stripe_gateway).
        "STRIPE_TIMEOUT": float(env.get("STRIPE_TIMEOUT", "3")),
        # What a network call inside an open database transaction does: raise, log or off (app.db).
        "TRANSACTION_GUARD": guard,
        "PUBLIC_BASE_URL": public_base_url,
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "WORKER_METRICS_BIND": env.get("WORKER_METRICS_BIND") or None,
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": (env.get("LOG_LEVEL") or "INFO").upper(),
        "DEMO_STOREFRONT": app_env == "development",
        "WEBHOOK_ALLOW_PRIVATE_URLS": env.get("WEBHOOK_ALLOW_PRIVATE_URLS") == "1",
        "WEBHOOK_ATTEMPT_DEADLINE": float(env.get("WEBHOOK_ATTEMPT_DEADLINE") or 10),
        "WORKER_CONCURRENCY": _int(env, "WORKER_CONCURRENCY", 4),
        "EVENT_BROKER_URL": env.get("EVENT_BROKER_URL") or None,
        "EVENT_BROKER_EXCHANGE": env.get("EVENT_BROKER_EXCHANGE") or "payments",
        "EVENT_BROKER_TIMEOUT": float(env.get("EVENT_BROKER_TIMEOUT") or 5),
        "WEBHOOK_RETRY_SCHEDULE": [int(s) for s in _split(env.get("WEBHOOK_RETRY_SCHEDULE"))]
        or DEFAULT_RETRY_SCHEDULE,
    }


def effective_settings(config: dict[str, Any]) -> dict[str, str]:
    """Each setting of :data:`SETTINGS` with its effective value from a Flask ``config``, as
    text, secrets masked (``sk_…`` keeps its prefix only; a database URL hides its password)."""
    from sqlalchemy.engine import make_url

    shown: dict[str, str] = {}
    for setting in SETTINGS:
        value = config.get(setting.key)
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if value is None or value == "":
            shown[setting.name] = "(unset)"
        elif setting.name == "DATABASE_URL":
            shown[setting.name] = make_url(str(value)).render_as_string(hide_password=True)
        elif setting.secret:
            shown[setting.name] = _mask(str(value))
        else:
            shown[setting.name] = str(value)
    return shown


KEY_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_")


def _mask(value: str) -> str:
    """``sk_live_…`` → ``sk_live_****``, anything else → ``****``, per comma-separated part:
    enough to tell which kind of key is configured, nothing that helps guess it."""
    masked = []
    for part in value.split(","):
        prefix = next((p for p in KEY_PREFIXES if part.startswith(p)), "")
        masked.append(prefix + "****")
    return ",".join(masked)


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
