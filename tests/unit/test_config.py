"""Settings from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import pytest

from app.config import SETTINGS, STRIPE_DEFAULT_API_BASE, ConfigError, effective_settings, load_config


def test_production_without_secrets_stops_with_a_message_naming_them(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(str(tmp_path), {"APP_ENV": "production", "SECRET_KEY": "s"})
    assert "production: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET." in str(error.value)


def test_production_with_secrets_reads_them(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            "SECRET_KEY": "s",
            "STRIPE_SECRET_KEY": "sk_live_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_new, whsec_old",
            "DATABASE_URL": "mysql+pymysql://u:p@db/checkout",
            "PUBLIC_BASE_URL": "https://pay.example/",
        },
    )
    assert config["APP_ENV"] == "production"
    assert config["STRIPE_WEBHOOK_SECRETS"] == ["whsec_new", "whsec_old"]
    assert config["STRIPE_API_BASE"] == STRIPE_DEFAULT_API_BASE
    assert config["SQLALCHEMY_DATABASE_URI"] == "mysql+pymysql://u:p@db/checkout"
    assert config["PUBLIC_BASE_URL"] == "https://pay.example"


def test_development_defaults_to_sqlite_under_instance(tmp_path):
    config = load_config(str(tmp_path), {"APP_ENV": "development"})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/checkout.sqlite3"
    assert config["PUBLIC_BASE_URL"] is None


def test_unknown_app_env_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config(str(tmp_path), {"APP_ENV": "staging"})


PRODUCTION_SECRETS = {"SECRET_KEY": "s", "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}


@pytest.mark.parametrize("url", [None, "http://pay.example", "pay.example"])
def test_production_refuses_a_public_base_url_that_is_not_https(tmp_path, url):
    environ = {**PRODUCTION_SECRETS, **({"PUBLIC_BASE_URL": url} if url else {})}
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be the service's https address"):
        load_config(str(tmp_path), environ)


def test_development_talks_to_the_sandbox_with_one_fixed_secret_key(tmp_path):
    first = load_config(str(tmp_path), {"APP_ENV": "development"})
    second = load_config(str(tmp_path), {"APP_ENV": "development"})
    assert first["STRIPE_API_BASE"] == "http://127.0.0.1:12111"
    assert first["SECRET_KEY"] == second["SECRET_KEY"]  # the worker derives the CLI's webhook secrets
    assert first["LOG_FORMAT"] == "console"


def test_production_logs_json_and_trusts_no_proxy_by_default(tmp_path):
    config = load_config(str(tmp_path), {**PRODUCTION_SECRETS, "PUBLIC_BASE_URL": "https://pay.example"})
    assert config["LOG_FORMAT"] == "json" and config["TRUSTED_PROXIES"] == 0


def test_a_malformed_number_names_its_setting(tmp_path):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES must be a whole number"):
        load_config(str(tmp_path), {"APP_ENV": "development", "TRUSTED_PROXIES": "one"})


def test_effective_settings_mask_secrets(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            **PRODUCTION_SECRETS,
            "STRIPE_WEBHOOK_SECRET": "whsec_new,whsec_old",
            "PUBLIC_BASE_URL": "https://pay.example",
            "DATABASE_URL": "mysql+pymysql://checkout:hunter2@db/checkout",
            "METRICS_TOKEN": "scrape-me",
        },
    )
    shown = effective_settings(config)
    assert shown["STRIPE_SECRET_KEY"] == "sk_live_****"
    assert shown["STRIPE_WEBHOOK_SECRET"] == "whsec_****,whsec_****"
    assert shown["DATABASE_URL"] == "mysql+pymysql://checkout:***@db/checkout"
    assert shown["SECRET_KEY"] == shown["METRICS_TOKEN"] == "****"
    assert shown["PUBLIC_BASE_URL"] == "https://pay.example"
    assert set(shown) == {setting.name for setting in SETTINGS}


def test_rate_limits_count_in_redis_in_production_and_in_memory_elsewhere(tmp_path):
    secrets = {**PRODUCTION_SECRETS, "PUBLIC_BASE_URL": "https://pay.example"}
    production = load_config(str(tmp_path), secrets)
    assert production["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert production["RATELIMIT_API_READS"] == "100 per second"
    assert load_config(str(tmp_path), {"APP_ENV": "development"})["RATELIMIT_STORAGE_URI"] == "memory://"
    custom = load_config(
        str(tmp_path),
        {
            **secrets,
            "RATELIMIT_STORAGE_URI": "redis://cache:6379/2",
            "RATELIMIT_SUCCESS_PAGE": "5 per minute",
        },
    )
    assert custom["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/2"
    assert custom["RATELIMIT_SUCCESS_PAGE"] == "5 per minute"


def test_production_has_no_test_mode_until_a_test_account_is_configured(tmp_path):
    from app import build_gateways

    base = {**PRODUCTION_SECRETS, "PUBLIC_BASE_URL": "https://pay.example"}
    assert build_gateways(load_config(str(tmp_path), base)).test is None
    with pytest.raises(ConfigError, match="STRIPE_TEST_SECRET_KEY must be a test-mode key"):
        load_config(str(tmp_path), {**base, "STRIPE_TEST_SECRET_KEY": "sk_live_y"})
    with pytest.raises(ConfigError, match="STRIPE_TEST_WEBHOOK_SECRET is required"):
        load_config(str(tmp_path), {**base, "STRIPE_TEST_SECRET_KEY": "sk_test_y"})
    configured = {**base, "STRIPE_TEST_SECRET_KEY": "sk_test_y", "STRIPE_TEST_WEBHOOK_SECRET": "whsec_t"}
    gateways = build_gateways(load_config(str(tmp_path), configured))
    assert gateways.test is not None and gateways.test.account == ("sk_test_y", STRIPE_DEFAULT_API_BASE)
    assert [modes for modes, _ in gateways.accounts()] == [frozenset({True}), frozenset({False})]


def test_development_runs_test_mode_on_the_live_accounts_sandbox(tmp_path):
    from app import build_gateways

    gateways = build_gateways(load_config(str(tmp_path), {"APP_ENV": "development"}))
    assert [modes for modes, _ in gateways.accounts()] == [frozenset({True, False})]
