"""The customer's sign-in pages: identify, face, one-time code; then the consent step.

Two journeys use the same steps (``idp.customer_login``), each under its own
path:

- an authorization: ``/authorize`` hands the browser to
  ``/interaction/<id>``; after the two factors the consent step finishes the
  interaction and resumes the authorization (``/authorize/resume/<id>``),
  which redirects back to the app;
- the customer's cabinet: ``/cabinet`` starts a cabinet session and sends the
  browser to ``/cabinet/sign-in/<id>``; after the two factors the customer
  is in the cabinet (``consent_ui.cabinet_pages``).

A page asked for out of turn sends the browser to the step that is due. Every
page first checks its journey: the interaction (``pending_interaction``) or
the cabinet session (``session_for_sign_in``) must exist, be unfinished and
unexpired, and belong to this browser (its binding cookie).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
from idp import cabinet, errors
from idp import customer_login as login_steps
from idp.authorize import BROWSER_COOKIE, complete_interaction, pending_interaction
from idp.consents.customer import summary
from idp.consents.models import Consent
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
    "consent_ui.cabinet_sign_in": "10 per minute; 60 per hour",
    "consent_ui.identify_submit": "10 per minute; 60 per hour",
    "consent_ui.face_page": "20 per minute",
    "consent_ui.face_submit": "6 per minute; 40 per hour",
    "consent_ui.otp_submit": "10 per minute",
    "consent_ui.otp_resend": "3 per minute; 20 per hour",
    # an appeal may carry 10 MiB of attachments (per account: consent_ui.cabinet_appeals)
    "consent_ui.customer_file_appeal": "10 per minute; 60 per hour",
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
STEPS = {
    "interaction": (
        ("identify", _l("Who you are")),
        ("face", _l("Face check")),
        ("otp", _l("SMS code")),
        ("authenticated", _l("Consent")),
    ),
    "cabinet": (
        ("identify", _l("Who you are")),
        ("face", _l("Face check")),
        ("otp", _l("SMS code")),
        ("authenticated", _l("Your consents")),
    ),
}
#: Where each journey's sign-in pages live.
FLOWS = {"interaction": "/interaction/<ref>", "cabinet": "/cabinet/sign-in/<ref>"}


@dataclass
class Visit:
    """The journey a page belongs to (an authorization's interaction or a cabinet session),
    with the customer's login."""

    flow: str
    ref: str
    login: login_steps.CustomerLogin
    interaction: Interaction | None = None
    params: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.ref

    def url(self, endpoint: str) -> str:
        """The URL of one of this journey's sign-in pages."""
        return url_for(f"consent_ui.{endpoint}", ref=self.ref, flow=self.flow)


def _visit(ref: str, flow: str) -> Visit:
    if flow == "cabinet":
        session = cabinet.session_for_sign_in(ref, request.cookies.get(cabinet.CABINET_COOKIE))
        return Visit(flow, session.id, cabinet.login_of(session))
    interaction, params = pending_interaction(ref, request.cookies.get(BROWSER_COOKIE))
    g.redirect_uri = params.get("redirect_uri")
    return Visit(flow, interaction.id, login_steps.login_for(interaction.id), interaction, params)


def sign_in_route(rule: str, methods: list[str], flows: tuple[str, ...] = tuple(FLOWS)) -> Callable:
    """Register a sign-in page under each journey's path (one endpoint; ``flow`` tells them apart)."""

    def register(view: Callable) -> Callable:
        for flow in flows:
            bp.add_url_rule(FLOWS[flow] + rule, view_func=view, methods=methods, defaults={"flow": flow})
        return view

    return register


def _registry() -> object:
    return current_app.extensions["senim.reference_registry"]


def _otp_key() -> bytes:
    return otp_key(current_app.extensions["senim.keyring"].server_secret)


def _page(template: str, visit: Visit, status: int = 200, **context: object) -> Response:
    client_name = None
    if visit.interaction is not None:
        client = db.session.scalar(select(Client).where(Client.client_id == visit.interaction.client_id))
        client_name = client.name if client else visit.interaction.client_id
    response = make_response(
        render_template(
            template,
            visit=visit,
            client_name=client_name,
            steps=STEPS[visit.flow],
            current_step=visit.login.step,
            # after a form post, the language links lead to the step that is due
            language_path=None if request.method == "GET" else visit.url("sign_in_start"),
            **context,
        )
    )
    response.status_code = status
    return response


def to_step(visit: Visit) -> Response:
    if visit.login.step == "authenticated" and visit.flow == "cabinet":
        return redirect(url_for("consent_ui.cabinet_home"), code=303)
    endpoint = {
        "identify": "identify_page",
        "face": "face_page",
        "otp": "otp_page",
        "authenticated": "consent_page",
    }[visit.login.step]
    return redirect(visit.url(endpoint), code=303)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _json_error(error: str, description: str, status: int, **extra: object) -> Response:
    response = jsonify({"error": error, "error_description": description, **extra})
    response.status_code = status
    return response


# -- the page rules -----------------------------------------------------------------
#: Other endpoints that take more than the app's 1 MB (the cabinet's appeal attachments).
UPLOAD_LIMITS: dict[str, int] = {}


@bp.before_request
def _check_csrf() -> None:
    if request.endpoint == "consent_ui.face_submit":
        # a clip may be larger than the app's 1 MB; set before anything reads the body
        request.max_content_length = MAX_FACE_UPLOAD
    elif request.endpoint in UPLOAD_LIMITS:
        request.max_content_length = UPLOAD_LIMITS[request.endpoint]
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


@bp.errorhandler(cabinet.SessionInvalid)
def _cabinet_session_invalid(error: cabinet.SessionInvalid) -> Response:
    """No live cabinet session in this browser: back to the cabinet's door."""
    db.session.rollback()
    if _wants_json():
        message = str(_l("This sign-in has expired or was started in another browser."))
        return _json_error("session_invalid", message, 400)
    return redirect(url_for("consent_ui.cabinet_home"), code=303)


@bp.errorhandler(login_steps.LoginRefused)
def _step_refused(refusal: login_steps.LoginRefused) -> Response:
    """A step taken out of turn, or a login changed by another request meanwhile: start from the due step."""
    db.session.rollback()
    args = request.view_args or {}
    if _wants_json():
        return _json_error(refusal.reason, face_message([refusal.reason]), 409)
    if not args.get("ref"):  # a cabinet page whose factors no longer hold
        return redirect(url_for("consent_ui.cabinet_home"), code=303)
    return redirect(url_for("consent_ui.sign_in_start", ref=args["ref"], flow=args["flow"]), code=303)


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
@sign_in_route("", ["GET"])
def sign_in_start(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    db.session.commit()
    return to_step(visit)


@sign_in_route("/cancel", ["POST"])
def cancel(ref: str, flow: str) -> Response:
    """The customer stops: the app gets ``access_denied``; a cabinet sign-in simply ends."""
    if flow == "cabinet":
        cabinet.end_session(cabinet.session_for_sign_in(ref, request.cookies.get(cabinet.CABINET_COOKIE)))
        return redirect(url_for("consent_ui.cabinet_home"), code=303)
    complete_interaction(ref, request.cookies.get(BROWSER_COOKIE), subject=None, approved=False)
    audit("login.cancelled", interaction_id=ref)
    return redirect(url_for("idp.resume", interaction_id=ref), code=303)


# -- 1. identify ----------------------------------------------------------------------
@sign_in_route("/identify", ["GET"])
def identify_page(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    db.session.commit()
    return _page("consent_ui/identify.html", visit, identifier=visit.params.get("login_hint", ""))


@sign_in_route("/identify", ["POST"])
def identify_submit(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
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
    return redirect(visit.url("face_page"), code=303)


# -- 2. face --------------------------------------------------------------------------
@sign_in_route("/face", ["GET"])
def face_page(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    if visit.login.step != "face":
        db.session.commit()
        return to_step(visit)
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
        return redirect(visit.url("identify_page"), code=303)
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


@sign_in_route("/face", ["POST"])
def face_submit(ref: str, flow: str) -> Response:
    frames = request.files.getlist("frames")
    video = request.files.get("video")
    challenge_id = request.form.get("challenge_id", "")
    visit = _visit(ref, flow)
    if visit.login.step != "face":
        db.session.commit()
        return (
            _json_error("step_out_of_order", str(_l("This step is already done.")), 409)
            if _wants_json()
            else (to_step(visit))
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
    next_page = visit.url("otp_page")
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
@sign_in_route("/otp", ["GET"])
def otp_page(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    db.session.commit()
    if visit.login.step != "otp":
        return to_step(visit)
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


@sign_in_route("/otp", ["POST"])
def otp_submit(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    if visit.login.step != "otp":
        db.session.commit()
        return to_step(visit)
    code = request.form.get("code", "").strip().replace(" ", "")
    try:
        login_steps.verify_code(visit.login, code, _otp_key())
    except OtpRefused as refusal:
        message = str(OTP_REASONS.get(refusal.reason, OTP_REASONS["otp_unknown"]))
        if refusal.reason == "otp_wrong":
            message += " " + str(_l("Tries left: %(n)s.", n=refusal.remaining))
        return _otp_page(visit, 400, message)
    if flow == "cabinet":
        audit("cabinet.signed_in", session_id=visit.ref)
    return to_step(visit)


@sign_in_route("/otp/resend", ["POST"])
def otp_resend(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    if visit.login.step != "otp":
        db.session.commit()
        return to_step(visit)
    try:
        login_steps.send_code(visit.login, sms_sender(), _otp_key())
    except OtpRefused as refusal:
        db.session.rollback()
        message = str(OTP_REASONS.get(refusal.reason, OTP_REASONS["otp_not_delivered"]))
        if refusal.retry_after:
            message += " " + str(_l("You can try again in %(seconds)s seconds.", seconds=refusal.retry_after))
        return _otp_page(visit, 429 if refusal.retry_after else 503, message)
    return redirect(visit.url("otp_page"), code=303)


# -- 4. the consent step ------------------------------------------------------------------
@sign_in_route("/consent", ["GET"], flows=("interaction",))
def consent_page(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    db.session.commit()
    if visit.login.step != "authenticated":
        return to_step(visit)
    return _consent_page(visit)


def _asked_consents(visit: Visit) -> list[Consent]:
    """The consents the request's ``account_information`` details name (PAR checked they are the app's)."""
    details = visit.params.get("authorization_details") or []
    ids = [d.get("consent_id") for d in details if d.get("type") == ACCOUNT_INFORMATION]
    return [consent for consent in (db.session.get(Consent, i) for i in ids if i) if consent is not None]


def _consent_page(visit: Visit, status: int = 200, error: str | None = None) -> Response:
    scopes = [SCOPE_WORDS.get(scope, scope) for scope in visit.params.get("scope", "").split()]
    return _page(
        "consent_ui/consent.html",
        visit,
        status,
        scopes=scopes,
        consents=[summary(consent) for consent in _asked_consents(visit)],
        other_details=[
            d for d in visit.params.get("authorization_details") or [] if d.get("type") != ACCOUNT_INFORMATION
        ],
        error=error,
    )


@sign_in_route("/consent", ["POST"], flows=("interaction",))
def consent_submit(ref: str, flow: str) -> Response:
    visit = _visit(ref, flow)
    if visit.login.step != "authenticated":
        db.session.commit()
        return to_step(visit)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        return _consent_page(visit, 400)
    iin = login_steps.authenticated_customer(visit.login)
    approve = decision == "approve"
    granted = []
    try:
        for detail in visit.params.get("authorization_details") or []:
            if detail.get("type") != ACCOUNT_INFORMATION:
                granted.append(detail)
                continue
            kept = request.form.getlist(f"keep-{detail.get('consent_id')}") if approve else None
            if approve and not kept:
                db.session.rollback()
                message = str(_l("Keep at least one bank, or reject the consent."))
                return _consent_page(visit, 400, message)
            granted.append(
                decide_by_customer(
                    detail, visit.interaction.client_id, iin, approve=approve, kept_provider_ids=kept
                )
            )
    except ValueError:  # a bank the consent does not ask for: a forged form
        db.session.rollback()
        return _consent_page(visit, 400, str(_l("Choose only among the banks listed.")))
    except ConsentNotAwaiting:
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
