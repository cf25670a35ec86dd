"""OAuth 2.0 / OpenID Connect authorization server of the platform."""

from __future__ import annotations

from flask import Flask

from senim.settings import Settings


def init_idp(app: Flask, settings: Settings) -> None:
    from idp.consents import init_consents
    from idp.rfc9449_dpop import NonceSource
    from idp.routes import bp
    from idp.server import SenimAuthorizationServer
    from idp.sms import dev_sms_bp, sms_sender_from_settings

    keyring = app.extensions["senim.keyring"]
    app.extensions["senim.authorization_server"] = SenimAuthorizationServer(
        app, settings, NonceSource(keyring.server_secret)
    )
    # Where /authorize hands the customer's browser off to (login, consent).
    # The customer-facing pages replace this when they are installed.
    app.extensions.setdefault(
        "senim.interaction_page", lambda interaction_id: f"{settings.issuer}/interaction/{interaction_id}"
    )
    app.extensions["senim.sms_sender"] = sms_sender_from_settings(settings)
    app.register_blueprint(bp)
    init_consents(app)
    if settings.environment == "development":
        app.register_blueprint(dev_sms_bp)
