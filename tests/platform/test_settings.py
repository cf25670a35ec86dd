"""Settings come from SENIM_* variables, with laptop defaults and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from senim.settings import Settings, SettingsError


def test_defaults_run_on_a_laptop() -> None:
    settings = Settings.from_env({})
    assert settings.bind == "127.0.0.1:8000"
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.data_dir == Path("instance")
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "instance/senim.db"
    )
    assert settings.key_dir == Path("instance/keys")
    assert settings.signing_alg == "ES256"
    assert settings.access_token_ttl == 300
    assert settings.sms_backend == "outbox"


def test_issuer_follows_bind_unless_given() -> None:
    assert Settings.from_env({"SENIM_BIND": "0.0.0.0:9000"}).issuer == "http://0.0.0.0:9000"
    assert Settings.from_env({"SENIM_ISSUER": "https://id.senim.kz/"}).issuer == "https://id.senim.kz"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SENIM_ACCESS_TOKEN_TTL": "3600"}, "SENIM_ACCESS_TOKEN_TTL"),
        ({"SENIM_ACCESS_TOKEN_TTL": "five"}, "integer"),
        ({"SENIM_SIGNING_ALG": "RS256"}, "SENIM_SIGNING_ALG"),
        ({"SENIM_ENV": "staging"}, "SENIM_ENV"),
        ({"SENIM_PAR_TTL": "600"}, "SENIM_PAR_TTL"),
        ({"SENIM_ENV": "production", "SENIM_ISSUER": "http://id.example"}, "https"),
        ({"SENIM_DPOP_REQUIRE_NONCE": "maybe"}, "true or false"),
        ({"SENIM_ISSUER": "ftp://x"}, "http"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_the_proxys_timeout_and_rate_limit() -> None:
    defaults = Settings.from_env({})
    assert (defaults.proxy_timeout, defaults.proxy_rate_limit) == (5.0, "1200/minute")
    chosen = Settings.from_env(
        {"SENIM_PROXY_TIMEOUT": "0.5", "SENIM_PROXY_RATE_LIMIT": "20/second;1200/minute"}
    )
    assert (chosen.proxy_timeout, chosen.proxy_rate_limit) == (0.5, "20/second;1200/minute")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SENIM_PROXY_TIMEOUT": "soon"}, "SENIM_PROXY_TIMEOUT must be a number"),
        ({"SENIM_PROXY_TIMEOUT": "0"}, "SENIM_PROXY_TIMEOUT must be between"),
        ({"SENIM_PROXY_TIMEOUT": "nan"}, "SENIM_PROXY_TIMEOUT must be between"),
        ({"SENIM_PROXY_RATE_LIMIT": "lots"}, "SENIM_PROXY_RATE_LIMIT must be a rate limit"),
    ],
)
def test_bad_proxy_settings_are_refused(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
