"""Qarjy, the demo API user's web app: a fintech of "Senim Demo Fintech" showing all of a
customer's bank accounts in one place.

It is what a real API user builds on Senim, and talks to the platform over
HTTP only (``demo_app.api_user``): "Connect my accounts" creates a consent
and pushes an authorization request; the customer signs in and consents at
Senim; back at ``/callback`` the app exchanges the code (DPoP,
``private_key_jwt``), reads each bank through the resource proxy and keeps
what it read in its own SQLite file; ``/events`` receives the platform's
consent events (RFC 8935) and deletes the data of an ended consent.

Run: ``python -m demo_app --platform http://127.0.0.1:8000 --port 8080
--key-file instance/demo/demo-app-private.jwk.json --banks ID=Name,...``
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from demo_app.api_user import DEMO_CLIENT_ID, ApiUser
from demo_app.banks import Bank, StaticBankDirectory
from demo_app.rfc8935_receiver import SetReceiver
from demo_app.service import DemoAppService
from demo_app.store import Store

__all__ = ["DemoAppConfig", "create_app"]


@dataclass(frozen=True)
class DemoAppConfig:
    platform: str  # the platform's issuer identifier (and base URL)
    base_url: str  # where browsers reach this app; the redirect URI is {base_url}/callback
    key_file: Path  # the client's private JWK (private_key_jwt)
    data_dir: Path  # the app's SQLite file and session secret live in {data_dir}/demo/
    banks: tuple[Bank, ...] = ()
    client_id: str = DEMO_CLIENT_ID
    secret_key: str | None = None  # signs the session cookie; default: a file in the data dir

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url.rstrip('/')}/callback"

    @property
    def notification_uri(self) -> str:
        return f"{self.base_url.rstrip('/')}/events"


def create_app(config: DemoAppConfig) -> Flask:
    """The demo app as a WSGI application."""
    from demo_app import views
    from demo_app.dashboard import format_date, format_iban, format_money

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key or _session_secret(config.data_dir / "demo" / "qarjy-secret"),
        SESSION_COOKIE_NAME="qarjy_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    platform = config.platform.rstrip("/")
    user = ApiUser.from_key_file(platform, config.key_file, config.client_id, config.redirect_uri)
    store = Store(config.data_dir / "demo" / "qarjy.db")
    app.extensions["demo_app.config"] = config
    app.extensions["demo_app.service"] = DemoAppService(user, store, StaticBankDirectory(config.banks))
    app.extensions["demo_app.receiver"] = SetReceiver(platform, config.client_id)
    app.jinja_env.filters.update(money=format_money, iban=format_iban, date=format_date)
    app.register_blueprint(views.bp)
    logging.getLogger("demo_app").setLevel(logging.INFO)
    return app


def _session_secret(path: Path) -> str:
    """The cookie-signing secret, made once and kept (mode 0600) so sessions survive restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret
