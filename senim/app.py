"""The composition root: ``create_app(settings)`` wires every package."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time

from flask import Flask, Response, g, jsonify, request
from sqlalchemy import text

from senim.audit import configure_audit_logging, flush_audit_events, init_audit_store
from senim.clock import Clock, SystemClock
from senim.database import db, init_database
from senim.keys import KeyRing, load_biometric_key
from senim.metrics import init_metrics
from senim.settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()
    app = Flask("senim", instance_path=str(settings.data_dir.resolve()))
    app.before_request(_fresh_request_globals)  # first, before every other hook
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    configure_audit_logging(
        settings.log_level, str(settings.audit_log_path) if settings.audit_log_path else None
    )

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = KeyRing(
        settings.key_dir,
        settings.signing_alg,
        # a retired key stays published as long as anything it signed may live
        retention_seconds=max(settings.access_token_ttl, settings.id_token_ttl) + 300,
        clock=clock.now,
    )
    keyring.ensure()
    app.config["SECRET_KEY"] = hmac.new(keyring.server_secret, b"flask-session", hashlib.sha256).hexdigest()
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    app.extensions["senim.settings"] = settings
    app.extensions["senim.clock"] = clock
    app.extensions["senim.keyring"] = keyring
    app.extensions["senim.biometric_key"] = load_biometric_key(settings.biometric_key, settings.key_dir)
    init_database(app, settings.database_url)
    init_audit_store(app)  # registered after the database: its teardown runs before the session's

    # Importing models registers them with the metadata (and with Alembic).
    # Foreign keys by name ("participants.id") resolve once every table is
    # known, so the registry's tables are imported here with the idp's.
    import biometrics.models  # noqa: F401
    import idp.cabinet
    import idp.customer_login
    import idp.models
    import idp.otp
    import idp.staff_login  # noqa: F401
    import resource_proxy.models  # noqa: F401
    from biometrics.registry import LocalReferenceRegistry
    from consent_ui import init_consent_ui
    from idp import init_idp
    from registry import init_registry
    from registry.accreditation_routes import init_accreditation_routes
    from resource_proxy import init_resource_proxy

    # The reference photo registry; a remote registry's adapter would be chosen here.
    app.extensions["senim.reference_registry"] = LocalReferenceRegistry(app.extensions["senim.biometric_key"])
    init_idp(app, settings)
    init_consent_ui(app, settings)
    init_resource_proxy(app, settings)  # after the pages: it shares their rate limiter
    init_registry(app)
    init_accreditation_routes(app)
    _register_platform_routes(app)
    init_metrics(app)  # last: its timer goes right after the request's fresh globals
    return app


def _fresh_request_globals() -> None:
    """Every request starts with an empty ``g``.

    A request shares ``g`` with an application context that was already
    pushed (a test, a CLI command); what extensions cache there for one
    request (Flask-WTF's CSRF token, Flask-Babel's locale) must not leak into
    the next. Audit records kept by that context are written first.
    """
    flush_audit_events()
    g.__dict__.clear()


def _register_platform_routes(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else secrets.token_hex(8)

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _rollback_unfinished(exc: BaseException | None) -> None:
        # A request that failed half-way leaves nothing behind.
        if exc is not None:
            db.session.rollback()

    @app.template_filter("datetime_utc")
    def _datetime_utc(epoch_seconds: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch_seconds))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        checks = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:  # noqa: BLE001 - reported, not raised
            checks["database"] = "unavailable"
        try:
            key = app.extensions["senim.keyring"].signing_key
            checks["signing_key"] = "ok" if key else "missing"
        except Exception:  # noqa: BLE001
            checks["signing_key"] = "missing"
        ready = all(v == "ok" for v in checks.values())
        return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503
