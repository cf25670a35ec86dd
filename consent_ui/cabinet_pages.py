"""The customer's cabinet: every consent they gave, its details and history, withdrawal, receipts.

``/cabinet`` is the door: without a session it offers to sign in (the same
two factors as an authorization, ``login_pages`` under
``/cabinet/sign-in/<id>``); signed in, it lists the customer's consents.
Withdrawing asks for confirmation first and takes effect at once: the app's
tokens stop working (``idp.consents.binding``) and the app is told. Another
customer's consent is "not found" on every page, whatever its id.
"""

from __future__ import annotations

import json

from flask import Response, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from consent_ui.login_pages import Visit, bp, to_step
from idp import cabinet
from idp.consents.customer import (
    RECEIPT_TYPE,
    ConsentNotFound,
    consents_of_customer,
    customer_consent,
    receipt_claims,
    revoke_by_customer,
    summary,
)
from idp.consents.lifecycle import history
from idp.consents.models import AUTHORISED, Consent
from idp.signing import sign
from senim.audit import audit
from senim.database import db


class NotSignedIn(Exception):
    """The page needs a signed-in customer."""


def _signed_in() -> tuple[cabinet.CabinetSession, str]:
    try:
        session = cabinet.session_of_browser(request.cookies.get(cabinet.CABINET_COOKIE))
        iin = cabinet.signed_in_customer(session)
    except cabinet.SessionInvalid:
        raise NotSignedIn() from None
    if iin is None:
        raise NotSignedIn()
    return session, iin


def _cabinet_page(template: str, status: int = 200, **context: object) -> Response:
    response = make_response(render_template(template, **context))
    response.status_code = status
    return response


def _own_consent(consent_id: str, iin: str) -> Consent:
    try:
        return customer_consent(consent_id, iin)
    except ConsentNotFound:
        audit("cabinet.consent_not_found", outcome="refused")
        raise


@bp.errorhandler(NotSignedIn)
def _not_signed_in(error: NotSignedIn) -> Response:
    db.session.rollback()
    return redirect(url_for("consent_ui.cabinet_home"), code=303)


@bp.errorhandler(ConsentNotFound)
def _consent_not_found(error: ConsentNotFound) -> Response:
    db.session.rollback()
    return _cabinet_page(
        "consent_ui/problem.html",
        404,
        reason="not_found",
        title=_l("Consent not found"),
        message=_l("You have no consent with this number."),
        in_cabinet=True,
        signed_in=True,
    )


# -- the door -------------------------------------------------------------------------
@bp.get("/cabinet")
def cabinet_home() -> Response:
    """The customer's consents; or the way in."""
    try:
        session = cabinet.session_of_browser(request.cookies.get(cabinet.CABINET_COOKIE))
        login = cabinet.login_of(session)
        if login.step != "authenticated":
            return to_step(Visit("cabinet", session.id, login))
        iin = cabinet.signed_in_customer(session)
    except cabinet.SessionInvalid:
        db.session.rollback()
        return _cabinet_page("consent_ui/cabinet_door.html")
    consents = consents_of_customer(iin)
    return _cabinet_page("consent_ui/cabinet.html", consents=consents, signed_in=True)


@bp.post("/cabinet/sign-in")
def cabinet_sign_in() -> Response:
    """Start a cabinet session in this browser and go to its first sign-in step."""
    session, browser_secret = cabinet.start_session()
    response = redirect(
        Visit("cabinet", session.id, cabinet.login_of(session)).url("identify_page"), code=303
    )
    settings = current_app.extensions["senim.settings"]
    response.set_cookie(
        cabinet.CABINET_COOKIE,
        browser_secret,
        max_age=cabinet.SESSION_TTL,
        path="/cabinet",
        secure=settings.issuer.startswith("https://"),
        httponly=True,
        samesite="Lax",
    )
    audit("cabinet.sign_in_started", session_id=session.id)
    return response


@bp.post("/cabinet/sign-out")
def cabinet_sign_out() -> Response:
    session, _iin = _signed_in()
    cabinet.end_session(session)
    response = redirect(url_for("consent_ui.cabinet_home"), code=303)
    response.delete_cookie(cabinet.CABINET_COOKIE, path="/cabinet")
    return response


# -- one consent ----------------------------------------------------------------------
@bp.get("/cabinet/consents/<consent_id>")
def cabinet_consent(consent_id: str) -> Response:
    _session, iin = _signed_in()
    consent = _own_consent(consent_id, iin)
    return _cabinet_page(
        "consent_ui/cabinet_consent.html",
        view=summary(consent),
        changes=history(consent.id),
        withdrawn=request.args.get("withdrawn") == "1",
        signed_in=True,
    )


@bp.get("/cabinet/consents/<consent_id>/withdraw")
def cabinet_withdraw_page(consent_id: str) -> Response:
    """Ask before withdrawing: the app loses access at once."""
    _session, iin = _signed_in()
    consent = _own_consent(consent_id, iin)
    if consent.status != AUTHORISED:
        return redirect(url_for("consent_ui.cabinet_consent", consent_id=consent.id), code=303)
    return _cabinet_page("consent_ui/cabinet_withdraw.html", view=summary(consent), signed_in=True)


@bp.post("/cabinet/consents/<consent_id>/withdraw")
def cabinet_withdraw(consent_id: str) -> Response:
    _session, iin = _signed_in()
    consent = _own_consent(consent_id, iin)
    withdrawn = revoke_by_customer(consent, iin)
    target = url_for(
        "consent_ui.cabinet_consent", consent_id=consent.id, withdrawn="1" if withdrawn else None
    )
    return redirect(target, code=303)


@bp.get("/cabinet/consents/<consent_id>/receipt")
def cabinet_receipt(consent_id: str) -> Response:
    """The consent receipt as signed JSON: the receipt, and the same claims as a JWS (verify with /jwks)."""
    _session, iin = _signed_in()
    consent = _own_consent(consent_id, iin)
    claims = receipt_claims(consent, current_app.extensions["senim.settings"].issuer)
    body = json.dumps({"receipt": claims, "signed": sign(claims, RECEIPT_TYPE)}, ensure_ascii=False, indent=2)
    response = make_response(body)
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = f'attachment; filename="senim-consent-{consent.id}.json"'
    audit("cabinet.receipt_downloaded", consent_id=consent.id)
    return response


@bp.get("/apps/<client_id>/logo.png")
def app_logo(client_id: str) -> Response:
    """An app's logo (public: the consent screen shows it before anyone signs in)."""
    from idp.models import Client

    client = (
        db.session.scalar(db.select(Client).where(Client.client_id == client_id))
        if len(client_id) <= 64
        else None
    )
    if client is None or not client.logo_png:
        return make_response(("", 404))
    response = make_response(client.logo_png)
    response.headers["Content-Type"] = "image/png"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
