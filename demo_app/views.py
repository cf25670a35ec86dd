"""The demo app's pages and its event receiver; thin: the work is in ``demo_app.service``.

| route                | what                                                             |
|----------------------|------------------------------------------------------------------|
| ``GET /``            | the product, the banks to choose, "Connect my accounts"          |
| ``POST /connect``    | consent + PAR, then 303 to the platform's authorize URL          |
| ``GET /callback``    | the redirect URI: state, iss, code exchange, read the banks      |
| ``GET /dashboard``   | accounts, balances, transactions per bank; notices               |
| ``POST /refresh``    | refresh tokens and data                                          |
| ``POST /disconnect`` | end the consent, delete its data                                 |
| ``POST /events``     | RFC 8935 push receiver of the platform's SETs                    |
"""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from demo_app.dashboard import dashboard
from demo_app.rfc8935_receiver import SetReceiver, SetRefused
from demo_app.service import ConnectFailed, DemoAppService

bp = Blueprint("demo_app", __name__)

#: What each permission lets Qarjy see, in the customer's words.
PERMISSION_WORDS = {
    "ReadAccountsBasic": "Your accounts: type, currency and name",
    "ReadAccountsDetail": "Your accounts with their IBAN and holder name",
    "ReadBalances": "How much money is on each account",
    "ReadTransactionsBasic": "Your payments and income: dates and amounts",
    "ReadTransactionsDetail": "Your payments and income with merchants and descriptions",
    "ReadTransactionsCredits": "Money coming in",
    "ReadTransactionsDebits": "Money going out",
}
log = logging.getLogger("demo_app")


def _service() -> DemoAppService:
    return current_app.extensions["demo_app.service"]


def _browser() -> str:
    """This browser's random id, in the signed session cookie (the only thing the cookie holds
    besides the form token)."""
    if "browser" not in session:
        session["browser"] = secrets.token_urlsafe(24)
        session.permanent = True
    return session["browser"]


def _form_token() -> str:
    if "form_token" not in session:
        session["form_token"] = secrets.token_urlsafe(24)
    return session["form_token"]


def _check_form_token() -> None:
    sent = request.form.get("form_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("form_token", "")):
        abort(400, "This form has expired; reload the page and try again.")


@bp.app_context_processor
def _page_globals() -> dict:
    return {"form_token": _form_token}


@bp.after_app_request
def _headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self' "
        + current_app.extensions["demo_app.config"].platform,
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/")
def home() -> str:
    service = _service()
    browser = _browser()
    connected = {bank for c in service.store.connections_of(browser) for bank in c.banks}
    return render_template(
        "home.html",
        banks=service.banks.banks(),
        connected=connected,
        permissions=service.permissions,
        permission_words=PERMISSION_WORDS,
        notices=service.store.notices(browser),
    )


@bp.post("/connect")
def connect() -> Response | tuple[str, int]:
    _check_form_token()
    try:
        url = _service().start_connection(_browser(), request.form.getlist("bank"))
    except ConnectFailed as failed:
        return render_template("message.html", title="Not connected", message=str(failed)), 400
    return redirect(url, code=303)


@bp.get("/callback")
def callback() -> Response | tuple[str, int]:
    try:
        _service().complete_connection(_browser(), request.args.to_dict())
    except ConnectFailed as failed:
        return render_template("message.html", title="Not connected", message=str(failed)), 400
    return redirect(url_for("demo_app.dashboard_page"), code=303)


@bp.get("/dashboard")
def dashboard_page() -> str:
    service = _service()
    browser = _browser()
    view = dashboard(service.store, service.banks, browser)
    return render_template("dashboard.html", view=view, notices=service.store.notices(browser))


@bp.post("/refresh")
def refresh() -> Response:
    _check_form_token()
    _service().refresh(_browser())
    return redirect(url_for("demo_app.dashboard_page"), code=303)


@bp.post("/disconnect")
def disconnect() -> Response:
    _check_form_token()
    _service().disconnect(_browser(), request.form.get("consent_id", ""))
    return redirect(url_for("demo_app.dashboard_page"), code=303)


@bp.post("/notices/dismiss")
def dismiss_notices() -> Response:
    _check_form_token()
    _service().store.dismiss_notices(_browser())
    return redirect(url_for("demo_app.dashboard_page"), code=303)


@bp.post("/events")
def events() -> Response | tuple[Response, int]:
    """RFC 8935 §2: 202 once the SET is verified and acted on; 400 with ``err`` otherwise."""
    receiver: SetReceiver = current_app.extensions["demo_app.receiver"]
    try:
        event = receiver.receive(request.content_type, request.get_data(cache=False))
    except SetRefused as refused:
        log.warning("security event refused: %s", refused.err)
        return jsonify(refused.as_json()), 400
    _service().handle_event(event)
    return Response(status=202)
