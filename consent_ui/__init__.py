"""The pages a person sees: customer login (identify, face, one-time code) and the consent step.

Server-rendered Jinja pages with one small script for the camera; no
third-party CDN. Kazakh, Russian and English (Flask-Babel), chosen from the
browser and switchable. Every form is CSRF-protected (Flask-WTF), every
page refuses to be framed and runs under a strict Content-Security-Policy,
and the steps that cost the platform something (registry lookups, face
checks, SMS) are limited per client IP (Flask-Limiter).
"""

from __future__ import annotations

import ipaddress

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from senim.settings import Settings

csrf = CSRFProtect()


def client_network() -> str:
    """Whom the per-IP limits count: the client's address; IPv6 clients by their /64,
    since one subscriber is usually given a whole /64 to pick addresses from."""
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def init_consent_ui(app: Flask, settings: Settings) -> None:
    from consent_ui import cabinet_pages, customer_appeals  # noqa: F401 - the cabinet's routes on bp
    from consent_ui.i18n import init_i18n
    from consent_ui.login_pages import RATE_LIMITS, bp
    from consent_ui.messages import CHANGE_WORDS, PERMISSION_WORDS, STATUS_WORDS

    secure = settings.issuer.startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="senim_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        # CSRF is checked by the pages' blueprint only: the OAuth endpoints
        # authenticate their callers with signed client assertions instead.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=settings.interaction_ttl,
    )
    csrf.init_app(app)
    init_i18n(app, settings)
    app.jinja_env.globals.update(
        PERMISSION_WORDS=PERMISSION_WORDS, STATUS_WORDS=STATUS_WORDS, CHANGE_WORDS=CHANGE_WORDS
    )
    app.register_blueprint(bp)
    from consent_ui import (  # noqa: F401 - they add routes to staff_pages.bp
        cabinet_accreditation,
        cabinet_apis,
        cabinet_appeals,
        cabinet_apps,
        cabinet_billing,
        cabinet_reports,
        staff_pages,
    )

    app.register_blueprint(staff_pages.bp)

    # One limiter per application (its counters live in its storage: memory
    # for one node, SENIM_RATE_LIMIT_STORAGE=redis://… for several).
    limiter = Limiter(
        client_network,
        app=app,
        default_limits=[],
        headers_enabled=True,
        storage_uri=settings.rate_limit_storage,
        key_prefix="senim",
    )
    for endpoint, limit in {
        **RATE_LIMITS,
        **staff_pages.RATE_LIMITS,
        **cabinet_accreditation.RATE_LIMITS,
    }.items():
        app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
    app.extensions["senim.limiter"] = limiter
