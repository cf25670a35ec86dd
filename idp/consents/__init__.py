"""The central register of consents (``consents``): the API users' consent API,
the lifecycle with its append-only history, and the rule that an authorization
request may only name a consent of its own client that awaits authorisation."""

from __future__ import annotations

from flask import Flask


def init_consents(app: Flask) -> None:
    from idp.consents.api import bp
    from idp.consents.authorization import check_consent_awaits_this_client
    from idp.consents.openapi import bp as openapi_bp
    from idp.rfc9396_authorization_details import ACCOUNT_INFORMATION, register_validator

    register_validator(ACCOUNT_INFORMATION, check_consent_awaits_this_client)
    # appeals link consents, which the registry does not read itself
    from idp.consents.appeal_links import IdpConsentLinks
    from registry.appeal_links import EXTENSION as CONSENT_LINKS

    app.extensions[CONSENT_LINKS] = IdpConsentLinks()
    app.register_blueprint(bp)
    app.register_blueprint(openapi_bp)
