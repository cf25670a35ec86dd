"""The customer's pages of an authorization: identify, face, one-time code, consent step.

``/authorize`` hands the browser to ``/interaction/<id>``; from there the
customer goes through the steps of ``idp.customer_login`` in order (a page
asked for out of turn sends the browser to the step that is due), and the
consent step finishes the interaction and resumes the authorization
(``/authorize/resume/<id>``), which redirects back to the app.

Every page first checks the interaction with ``pending_interaction``: it must
exist, be unfinished and unexpired, and belong to this browser (the binding
cookie set by ``/authorize``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from biometrics.face_check import ChallengeInvalid, FaceCheck, NotOnRecord
from biometrics.liveness.frames import MAX_FRAMES, MAX_VIDEO_BYTES
from biometrics.lockout import TooManyFailures
from biometrics.phones import mask_phone
from consent_ui import csrf
from consent_ui.messages import FACE_REASONS, IDENTIFY_REASONS, OTP_REASONS, face_message
from idp import customer_login as login_steps
from idp import errors
from idp.authorize import BROWSER_COOKIE, complete_interaction, pending_interaction
from idp.consents.service import ConsentNotAwaiting, decide_by_customer
from idp.models import Client, Interaction
from idp.otp import OtpRefused, otp_key
from idp.rfc9396_authorization_details import ACCOUNT_INFORMATION
from idp.sms import sms_sender
from senim.audit import audit
from senim.database import db

bp = Blueprint(
    "consent_ui", __name__, template_folder="templates", static_folder="static", static_url_path="/static/ui"
)

#: Per client IP (Flask-Limiter). Identification and the face check cost a
#: registry lookup and seconds of CPU; codes cost an SMS.
RATE_LIMITS = {
    "consent_ui.identify_submit": "10 per minute; 60 per hour",
    "consent_ui.face_page": "20 per minute",
    "consent_ui.face_submit": "6 per minute; 40 per hour",
    "consent_ui.otp_submit": "10 per minute",
    "consent_ui.otp_resend": "3 per minute; 20 per hour",
}

#: The camera script's timeline (milliseconds from the moment the camera
#: plays): one frontal frame, then two frames late in each pose's prompt,
#: when the head has turned. At most 1 + 2 × 3 = 7 frames.
CAMERA_TIMELINE = {
    "front_ms": 1500,
    "front_capture_ms": 1000,
    "pose_ms": 2500,
    "pose_captures_ms": [1300, 2100],
}
#: A clip of up to 12 MB, plus the form around it.
MAX_FACE_UPLOAD = MAX_VIDEO_BYTES + 256 * 1024

POSE_PROMPTS = {
    "left": _l("Turn your head to the left"),
    "right": _l("Turn your head to the right"),
    "up": _l("Tilt your head up"),
    "down": _l("Tilt your head down"),
}
SCOPE_WORDS = {
    "openid": _l("Confirm to the app that it is you (an anonymous identifier, not your IIN)"),
    "accounts": _l("See your bank accounts, their balances and transactions, as your consent allows"),
}
STEPS = (
    ("identify", _l("Who you are")),
    ("face", _l("Face check")),
    ("otp", _l("SMS code")),
    ("authenticated", _l("Consent")),
)


@dataclass
class Visit:
    """The interaction a page belongs to, with its request and the customer's login."""

    interaction: Interaction
    params: dict
    login: login_steps.CustomerLogin

    @property
    def id(self) -> str:
        return self.interaction.id


def _visit(interaction_id: str) -> Visit:
    interaction, params = pending_interaction(interaction_id, request.cookies.get(BROWSER_COOKIE))
    g.redirect_uri = params.get("redirect_uri")
    return Visit(interaction, params, login_steps.login_for(interaction.id))


def _registry() -> object:
    return current_app.extensions["senim.reference_registry"]


def _otp_key() -> bytes:
    return otp_key(current_app.extensions["senim.keyring"].server_secret)


def _page(template: str, visit: Visit, status: int = 200, **context: object) -> Response:
    client = db.session.scalar(select(Client).where(Client.client_id == visit.interaction.client_id))
    response = make_response(
        render_template(
            template,
            visit=visit,
            client_name=client.name if client else visit.interaction.client_id,
            steps=STEPS,
            current_step=visit.login.step,
            # after a form post, the language links lead to the step that is due
            language_path=None
            if request.method == "GET"
            else url_for("consent_ui.interaction_start", interaction_id=visit.id),
            **context,
        )
    )
    response.status_code = status
    return response


def _to_step(visit: Visit) -> Response:
    endpoint = {
        "identify": "consent_ui.identify_page",
        "face": "consent_ui.face_page",
        "otp": "consent_ui.otp_page",
        "authenticated": "consent_ui.consent_page",
    }[visit.login.step]
    return redirect(url_for(endpoint, interaction_id=visit.id), code=303)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _json_error(error: str, description: str, status: int, **extra: object) -> Response:
    response = jsonify({"error": error, "error_description": description, **extra})
    response.status_code = status
    return response


# -- the page rules -----------------------------------------------------------------
@bp.before_request
def _check_csrf() -> None:
    if request.endpoint == "consent_ui.face_submit":
        # a clip may be larger than the app's 1 MB; set before anything reads the body
        request.max_content_length = MAX_FACE_UPLOAD
    if request.method == "POST":
        csrf.protect()


@bp.after_request
def _page_headers(response: Response) -> Response:
    """Strict CSP: own scripts and styles only, never framed; forms post here or to the app."""
    form_action = "'self'"
    redirect_uri = g.get("redirect_uri")
    if redirect_uri:
        # Chromium applies form-action to the redirects that follow a form
        # (cancel, consent → resume → the app's redirect URI).
        form_action += " " + _csp_origin(redirect_uri)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    # Flask-WTF checks the Referer of HTTPS form posts against our origin.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    return response


def _csp_origin(uri: str) -> str:
    """A CSP source for the URI's origin: scheme, host and port only (never user info)."""
    parts = urlsplit(uri)
    if not parts.hostname:
        return f"{parts.scheme}:"  # a private-use scheme (RFC 8252 §7.1)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


@bp.context_processor
def _page_context() -> dict:
    return {"current_locale": str(get_locale()), "page_path": request.path}


def _refusal(error: str, reason: str, message: str, status: int) -> Response:
    """A refusal as the caller wants it: JSON for the camera script, the problem page for a browser."""
    if _wants_json():
        return _json_error(error, message, status)
    response = make_response(render_template("consent_ui/problem.html", reason=reason, message=message))
    response.status_code = status
    return response


@bp.errorhandler(errors.Refusal)
def _interaction_refused(error: errors.Refusal) -> Response:
    db.session.rollback()
    audit("login.refused", outcome="refused", reason=error.reason, path=request.path)
    message = str(_l("This sign-in has expired, was already finished, or was started in another browser."))
    return _refusal(error.error, error.reason, message, 400)


@bp.errorhandler(login_steps.LoginRefused)
def _step_refused(refusal: login_steps.LoginRefused) -> Response:
    """A step taken out of turn, or a login changed by another request meanwhile: start from the due step."""
    db.session.rollback()
    interaction_id = (request.view_args or {}).get("interaction_id", "")
    if _wants_json():
        return _json_error(refusal.reason, face_message([refusal.reason]), 409)
    return redirect(url_for("consent_ui.interaction_start", interaction_id=interaction_id), code=303)


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    audit("login.refused", outcome="refused", reason="csrf", path=request.path)
    return _refusal(
        "invalid_request", "csrf", str(_l("This page has expired. Reload it and try again.")), 400
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Response:
    message = str(_l("The upload is too large: a clip may have at most 12 MB."))
    return _refusal("capture_too_large", "too_large", message, 413)


@bp.errorhandler(TooManyRequests)
def _rate_limited(error: TooManyRequests) -> Response:
    audit("login.rate_limited", outcome="refused", path=request.path)
    message = str(_l("Too many attempts from this network. Please wait a minute and try again."))
    return _refusal("rate_limited", "rate_limited", message, 429)


# -- 0. where the interaction starts ---------------------------------------------------
@bp.get("/interaction/<interaction_id>")
def interaction_start(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    db.session.commit()
    return _to_step(visit)


@bp.post("/interaction/<interaction_id>/cancel")
def cancel(interaction_id: str) -> Response:
    """The customer stops: the app gets ``access_denied``."""
    complete_interaction(interaction_id, request.cookies.get(BROWSER_COOKIE), subject=None, approved=False)
    audit("login.cancelled", interaction_id=interaction_id)
    return redirect(url_for("idp.resume", interaction_id=interaction_id), code=303)


# -- 1. identify ----------------------------------------------------------------------
@bp.get("/interaction/<interaction_id>/identify")
def identify_page(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    db.session.commit()
    return _page("consent_ui/identify.html", visit, identifier=visit.params.get("login_hint", ""))


@bp.post("/interaction/<interaction_id>/identify")
def identify_submit(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    identifier = request.form.get("identifier", "")
    try:
        login_steps.identify(visit.login, identifier, _registry())
    except login_steps.NotIdentified as refusal:
        db.session.commit()
        return _page(
            "consent_ui/identify.html",
            visit,
            400,
            identifier=identifier[:40],
            error=IDENTIFY_REASONS[refusal.reason],
        )
    return redirect(url_for("consent_ui.face_page", interaction_id=visit.id), code=303)


# -- 2. face --------------------------------------------------------------------------
@bp.get("/interaction/<interaction_id>/face")
def face_page(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    if visit.login.step != "face":
        db.session.commit()
        return _to_step(visit)
    return _face_page(visit)


def _face_page(visit: Visit, status: int = 200, error: str | None = None) -> Response:
    try:
        check = login_steps.start_face(visit.login, _registry())
    except TooManyFailures as locked:
        db.session.commit()
        return _page(
            "consent_ui/face.html",
            visit,
            429,
            check=None,
            error=FACE_REASONS["too_many_failures"],
            retry_after=locked.retry_after,
        )
    except NotOnRecord:  # removed from the registry since identifying
        db.session.rollback()
        return redirect(url_for("consent_ui.identify_page", interaction_id=visit.id), code=303)
    return _page(
        "consent_ui/face.html",
        visit,
        status,
        check=check,
        error=error,
        timeline=CAMERA_TIMELINE,
        texts=_camera_texts(check),
    )


def _camera_texts(check: FaceCheck) -> dict:
    return {
        "look_straight": str(_l("Look straight at the camera")),
        "poses": {pose: str(POSE_PROMPTS[pose]) for pose in check.poses},
        "checking": str(_l("Checking…")),
        "accepted": str(_l("Face check passed.")),
        "no_camera": str(_l("This browser cannot open a camera. Upload a short video instead.")),
        "camera_denied": str(
            _l("The camera could not be opened. Allow camera access, or upload a short video instead.")
        ),
        "network": str(_l("The pictures could not be sent. Check your connection and try again.")),
    }


@bp.post("/interaction/<interaction_id>/face")
def face_submit(interaction_id: str) -> Response:
    frames = request.files.getlist("frames")
    video = request.files.get("video")
    challenge_id = request.form.get("challenge_id", "")
    visit = _visit(interaction_id)
    if visit.login.step != "face":
        db.session.commit()
        return (
            _json_error("step_out_of_order", str(_l("This step is already done.")), 409)
            if _wants_json()
            else (_to_step(visit))
        )
    if bool(frames) == bool(video and video.filename):
        return _face_input_error(
            visit, "invalid_request", str(_l("Send either camera frames or one video.")), 400
        )
    if len(frames) > MAX_FRAMES:
        return _face_input_error(visit, "too_many_frames", str(_l("Too many pictures were sent.")), 400)
    capture: list[bytes] | bytes = [frame.read() for frame in frames] if frames else video.read()
    try:
        result = login_steps.finish_face(visit.login, challenge_id, capture, _registry())
    except login_steps.StepOutOfOrder as refusal:
        db.session.commit()
        return _face_refused(visit, [refusal.reason], 409)
    except ChallengeInvalid:
        db.session.rollback()
        return _face_refused(visit, ["face_challenge_unknown"], 409)
    except TooManyFailures as locked:
        db.session.rollback()
        return _face_refused(visit, ["too_many_failures"], 429, locked.retry_after)
    if not result.accepted:
        return _face_refused(visit, result.reasons, 403, result.retry_after)
    try:
        login_steps.send_code(visit.login, sms_sender(), _otp_key())
    except OtpRefused:
        db.session.rollback()  # the code page says so and offers to send again
    next_page = url_for("consent_ui.otp_page", interaction_id=visit.id)
    if _wants_json():
        return jsonify({"status": "accepted", "next": next_page})
    return redirect(next_page, code=303)


def _face_input_error(visit: Visit, error: str, message: str, status: int) -> Response:
    """Malformed uploads change nothing: the challenge stays open, no failure is counted."""
    db.session.commit()  # only what reading the interaction did
    if _wants_json():
        return _json_error(error, message, status)
    return _face_page(visit, status, message)


def _face_refused(visit: Visit, reasons: list[str], status: int, retry_after: int | None = None) -> Response:
    message = face_message(reasons)
    if retry_after:
        message += " " + str(_l("You can try again in %(seconds)s seconds.", seconds=retry_after))
    if _wants_json():
        extra = {"reasons": reasons}
        if retry_after:
            extra["retry_after"] = retry_after
        return _json_error("face_refused", message, status, **extra)
    return _face_page(visit, status, message)


# -- 3. one-time code -------------------------------------------------------------------
@bp.get("/interaction/<interaction_id>/otp")
def otp_page(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    db.session.commit()
    if visit.login.step != "otp":
        return _to_step(visit)
    return _otp_page(visit)


def _otp_page(visit: Visit, status: int = 200, error: str | None = None) -> Response:
    return _page(
        "consent_ui/otp.html",
        visit,
        status,
        phone=mask_phone(visit.login.phone or ""),
        code_sent=bool(visit.login.otp_challenge_id),
        error=error,
    )


@bp.post("/interaction/<interaction_id>/otp")
def otp_submit(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    if visit.login.step != "otp":
        db.session.commit()
        return _to_step(visit)
    code = request.form.get("code", "").strip().replace(" ", "")
    try:
        login_steps.verify_code(visit.login, code, _otp_key())
    except OtpRefused as refusal:
        message = str(OTP_REASONS.get(refusal.reason, OTP_REASONS["otp_unknown"]))
        if refusal.reason == "otp_wrong":
            message += " " + str(_l("Tries left: %(n)s.", n=refusal.remaining))
        return _otp_page(visit, 400, message)
    return redirect(url_for("consent_ui.consent_page", interaction_id=visit.id), code=303)


@bp.post("/interaction/<interaction_id>/otp/resend")
def otp_resend(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    if visit.login.step != "otp":
        db.session.commit()
        return _to_step(visit)
    try:
        login_steps.send_code(visit.login, sms_sender(), _otp_key())
    except OtpRefused as refusal:
        db.session.rollback()
        message = str(OTP_REASONS.get(refusal.reason, OTP_REASONS["otp_not_delivered"]))
        if refusal.retry_after:
            message += " " + str(_l("You can try again in %(seconds)s seconds.", seconds=refusal.retry_after))
        return _otp_page(visit, 429 if refusal.retry_after else 503, message)
    return redirect(url_for("consent_ui.otp_page", interaction_id=visit.id), code=303)


# -- 4. the consent step ------------------------------------------------------------------
@bp.get("/interaction/<interaction_id>/consent")
def consent_page(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    db.session.commit()
    if visit.login.step != "authenticated":
        return _to_step(visit)
    return _consent_page(visit)


def _consent_page(visit: Visit, status: int = 200) -> Response:
    scopes = [SCOPE_WORDS.get(scope, scope) for scope in visit.params.get("scope", "").split()]
    return _page(
        "consent_ui/consent.html",
        visit,
        status,
        scopes=scopes,
        details=visit.params.get("authorization_details") or [],
    )


@bp.post("/interaction/<interaction_id>/consent")
def consent_submit(interaction_id: str) -> Response:
    visit = _visit(interaction_id)
    if visit.login.step != "authenticated":
        db.session.commit()
        return _to_step(visit)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        return _consent_page(visit, 400)
    iin = login_steps.authenticated_customer(visit.login)
    approve = decision == "approve"
    granted = []
    try:
        for detail in visit.params.get("authorization_details") or []:
            if detail.get("type") == ACCOUNT_INFORMATION:
                granted.append(decide_by_customer(detail, visit.interaction.client_id, iin, approve=approve))
            else:
                granted.append(detail)
    except (ConsentNotAwaiting, ValueError):
        db.session.rollback()
        audit(
            "consent_step.refused", outcome="refused", interaction_id=visit.id, reason="consent_not_awaiting"
        )
        message = str(
            _l("This consent can no longer be given: the app ended it or the time to decide ran out.")
        )
        return _page("consent_ui/problem.html", visit, 409, reason="consent_not_awaiting", message=message)
    server_secret = current_app.extensions["senim.keyring"].server_secret
    complete_interaction(  # commits the consent's decision together with the interaction's
        visit.id,
        request.cookies.get(BROWSER_COOKIE),
        subject=login_steps.customer_subject(server_secret, iin),
        approved=approve,
        auth_time=visit.login.otp_passed_at,
        acr=login_steps.ACR_TWO_FACTORS,
        amr=list(login_steps.AMR_TWO_FACTORS),
        authorization_details=granted or None,
    )
    audit(
        "consent_step.decided",
        interaction_id=visit.id,
        decision=decision,
        client_id=visit.interaction.client_id,
    )
    return redirect(url_for("idp.resume", interaction_id=visit.id), code=303)
