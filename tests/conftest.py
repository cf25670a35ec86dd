"""Fixtures: the application on SQLite and on PostgreSQL (the same tests run on
both), a settable clock, and an API user's app.

PostgreSQL comes from SENIM_TEST_DATABASE_URL. Locally its tests skip when it
is not set; in CI (CI=true) a skipped test fails the run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from senim.app import create_app
from senim.clock import SettableClock
from senim.database import db
from senim.settings import Settings
from tests.support.api_user import ISSUER, ApiUser, public_jwks
from tests.support.database import empty_tables

BACKENDS = ("sqlite", "postgresql")


def _fresh_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    base = Settings.from_env({"SENIM_DATA_DIR": str(data_dir), "SENIM_ISSUER": ISSUER, "SENIM_ENV": "test"})
    return base.with_overrides(database_url=database_url, **overrides)


@pytest.fixture(scope="session", params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'senim.db'}"
    url = os.environ.get("SENIM_TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL tests need SENIM_TEST_DATABASE_URL")
    _fresh_postgres(url)
    return url


@pytest.fixture(scope="session")
def session_clock() -> SettableClock:
    return SettableClock()


@pytest.fixture(scope="session")
def base_app(
    backend_url: str, tmp_path_factory: pytest.TempPathFactory, session_clock: SettableClock
) -> Flask:
    from flask_migrate import upgrade

    settings = make_settings(tmp_path_factory.mktemp("data"), backend_url)
    # the first signing key dates from now, not from where a test of the other backend left the clock
    session_clock._now = time.time()
    app = create_app(settings, clock=session_clock)
    with app.app_context():
        upgrade()  # the schema comes from the migrations, on both databases
    return app


@pytest.fixture
def clock(session_clock: SettableClock) -> SettableClock:
    session_clock._now = time.time()
    return session_clock


@pytest.fixture
def app(base_app: Flask, clock: SettableClock) -> Iterator[Flask]:
    with base_app.app_context():
        yield base_app
        db.session.rollback()
    empty_tables(base_app)
    base_app.extensions["senim.limiter"].reset()  # per-IP counters start afresh for each test


@pytest.fixture
def http(app: Flask):
    return app.test_client()


def register(app: Flask, client_id: str = "app-1", **overrides: object):
    from joserfc.jwk import ECKey

    from idp.clients import register_client

    key = ECKey.generate_key("P-256")
    params = {
        "name": "Test app",
        "jwks": public_jwks(key),
        "redirect_uris": ["https://app.example/cb"],
        "scope": "openid accounts consents",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "client_id": client_id,
    }
    params.update(overrides)
    register_client(**params)
    return key


@pytest.fixture
def api_user(app: Flask, http, clock: SettableClock) -> ApiUser:
    key = register(app)
    return ApiUser(http=http, client_id="app-1", key=key, now=clock.now)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may skip: PostgreSQL and Chromium tests must really run."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
