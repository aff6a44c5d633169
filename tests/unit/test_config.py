"""Settings from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import pytest

from app.config import STRIPE_DEFAULT_API_BASE, ConfigError, load_config


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


def test_rate_limits_count_in_redis_in_production_and_in_memory_elsewhere(tmp_path):
    secrets = {"SECRET_KEY": "s", "STRIPE_SECRET_KEY": "sk_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
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
