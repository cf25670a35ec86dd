"""The staff pages under ``/registry``: sign-in, invitations, security, staff, the operator console.

Participants' staff and operators sign in here (``idp.staff_login``: a
passkey, or an authenticator-app or recovery code). A signed-in member of a
participant lands in the participant cabinet, an operator in the console,
the regulator in the platform's aggregate reports (``cabinet_reports``).
Every page checks the session first (``_signed_in``); every form is
CSRF-protected; the passkey ceremonies talk JSON to the page's script
(``static/passkey.js``), with the CSRF token in a header. Sensitive actions
(staff changes, passkeys, blocking) need a factor shown in the last five
minutes, and otherwise send the member to ``/registry/confirm`` first.

Another participant's staff member, passkey or page is "not found", never
"not yours".
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
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
from markupsafe import Markup

from consent_ui import csrf
from idp import staff_login
from registry import participants as participant_registry
from registry import staff as staff_registry
from registry.staff import NotPermitted, StaffError, StaffMember
from senim.audit import audit
from senim.database import db

bp = Blueprint("staff_ui", __name__, url_prefix="/registry", template_folder="templates")

#: Per client IP (Flask-Limiter): sign-in attempts, invitation links and filing appeals (each
#: may carry 10 MiB of attachments; per account: consent_ui.cabinet_appeals).
RATE_LIMITS = {
    "staff_ui.sign_in_with_code": "10 per minute; 60 per hour",
    "staff_ui.sign_in_with_passkey": "20 per minute",
    "staff_ui.join_page": "20 per minute",
    "staff_ui.file_appeal": "10 per minute; 60 per hour",
}

ROLE_WORDS = {
    "admin": _l("Administrator"),
    "developer": _l("Developer"),
    "finance": _l("Finance"),
    "viewer": _l("Viewer"),
    "operator": _l("Operator"),
    "regulator": _l("Regulator"),
}
PARTICIPANT_ROLE_WORDS = {"api_provider": _l("API provider"), "api_user": _l("API user")}
STATUS_WORDS = {
    "invited": _l("Invited"),
    "active": _l("Active"),
    "removed": _l("Removed"),
    "blocked": _l("Blocked"),
    "registered": _l("Registered, not accredited"),
}


#: What ``idp.staff_login``'s refusals say, in the page's language.
STAFF_LOGIN_WORDS = {
    "The authenticator's answer is too large.": _l("The authenticator's answer is too large."),
    "The sign-in step has expired: start again.": _l("The sign-in step has expired: start again."),
    "The passkey could not be verified: try again.": _l("The passkey could not be verified: try again."),
    "This staff account is not active.": _l("This staff account is not active."),
    "This passkey is already registered.": _l("This passkey is already registered."),
    "This passkey is not registered with Senim.": _l("This passkey is not registered with Senim."),
    "No such passkey.": _l("No such passkey."),
    "At most 10 passkeys: remove one first.": _l("At most 10 passkeys: remove one first."),
    "This is your only way to sign in: add another passkey or an authenticator app first.": _l(
        "This is your only way to sign in: add another passkey or an authenticator app first."
    ),
    "This is your only way to sign in: add a passkey first.": _l(
        "This is your only way to sign in: add a passkey first."
    ),
    "An authenticator app is already set up: remove it first.": _l(
        "An authenticator app is already set up: remove it first."
    ),
    "Start the authenticator app set-up again.": _l("Start the authenticator app set-up again."),
    "The code is wrong: check the app shows Senim and the time on the phone is right.": _l(
        "The code is wrong: check the app shows Senim and the time on the phone is right."
    ),
    "The code is wrong.": _l("The code is wrong."),
    "The address or the code is wrong.": _l("The address or the code is wrong."),
    "Sign in as the same staff member to continue.": _l("Sign in as the same staff member to continue."),
    "No authenticator app is set up for this staff member.": _l(
        "No authenticator app is set up for this staff member."
    ),
}


def say(refusal: Exception) -> str:
    """A refusal of ``idp.staff_login`` in the page's language (its own words if unknown)."""
    return str(STAFF_LOGIN_WORDS.get(str(refusal), str(refusal)))


class NotSignedIn(Exception):
    """The page needs a signed-in staff member."""


class NotFound(Exception):
    """Nothing of this member's organisation has this id."""


# -- the page rules -----------------------------------------------------------------------------
def _origin() -> str:
    return staff_login.staff_origin(current_app.extensions["senim.settings"].issuer)


#: Endpoints that take uploads larger than the app's 1 MB (the cabinet's documents and logos).
UPLOAD_LIMITS: dict[str, int] = {}


@bp.before_request
def _page_rules() -> Response | None:
    # Passkeys are bound to the staff pages' origin: a page opened at another
    # address of this server (127.0.0.1 for localhost) is sent there first.
    here = f"{request.scheme}://{request.host}"
    if here != _origin():
        if request.method == "GET":
            return redirect(_origin() + request.full_path.rstrip("?"), code=303)
        return _problem(_l("Open the staff pages at %(origin)s.", origin=_origin()), 400)
    if request.endpoint in UPLOAD_LIMITS:
        request.max_content_length = UPLOAD_LIMITS[request.endpoint]
    if request.method == "POST":
        csrf.protect()
    return None


@bp.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _page_context() -> dict:
    return {
        "current_locale": str(get_locale()),
        "page_path": request.path,
        "ROLE_WORDS": ROLE_WORDS,
        "STAFF_STATUS_WORDS": STATUS_WORDS,
        "PARTICIPANT_ROLE_WORDS": PARTICIPANT_ROLE_WORDS,
        "member": g.get("staff_member"),
    }


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _json_error(error: str, description: str, status: int) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _problem(message: object, status: int) -> Response:
    if _wants_json():
        return _json_error("invalid_request", str(message), status)
    response = make_response(render_template("consent_ui/registry/problem.html", message=message))
    response.status_code = status
    return response


@bp.errorhandler(NotSignedIn)
def _not_signed_in(error: NotSignedIn) -> Response:
    db.session.rollback()
    if _wants_json():
        return _json_error("session_invalid", str(_l("Your session has ended: sign in again.")), 401)
    response = redirect(url_for("staff_ui.sign_in_page", next=request.path), code=303)
    response.delete_cookie(staff_login.STAFF_COOKIE, path="/registry")
    return response


@bp.errorhandler(staff_login.ProofTooOld)
def _proof_too_old(error: staff_login.ProofTooOld) -> Response:
    db.session.rollback()
    back = request.referrer if request.method == "POST" else request.path
    back = _local_path(back) or url_for("staff_ui.home")
    if _wants_json():
        return _json_error("reauthentication_required", str(_l("Confirm it is you first.")), 403)
    return redirect(url_for("staff_ui.confirm_page", next=back), code=303)


@bp.errorhandler(NotPermitted)
def _not_permitted(error: NotPermitted) -> Response:
    db.session.rollback()
    audit("staff.refused", outcome="refused", reason="not_permitted", path=request.url_rule.rule)
    return _problem(_l("Your role does not allow this. Ask an administrator of your organisation."), 403)


@bp.errorhandler(NotFound)
def _not_found(error: NotFound) -> Response:
    db.session.rollback()
    return _problem(_l("Not found."), 404)


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    audit("staff.refused", outcome="refused", reason="csrf", path=request.path)
    return _problem(_l("This page has expired. Reload it and try again."), 400)


def act_then_return(
    action: Callable[[], object],
    back: str,
    done: object | None = None,
    refusals: tuple[type[Exception], ...] = (ValueError,),
    words: Callable[[Exception], str] = str,
) -> Response:
    """Run ``action``; say ``done``, or the refusal (its changes rolled back); back to ``back``.

    The services' refusals (``StaffError``, ``ParticipantError``, …) are ValueErrors
    whose text says what is wrong; permissions (``NotPermitted``) are raised on.
    """
    try:
        action()
    except NotPermitted:
        raise
    except refusals as refusal:
        db.session.rollback()
        flash(words(refusal), "error")
    else:
        if done is not None:
            flash(str(done))
    return redirect(back, code=303)


def _local_path(target: str | None) -> str | None:
    """``target`` if it is a path of the staff pages (never another site: no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc) and f"{parts.scheme}://{parts.netloc}" != _origin():
        return None
    path = parts.path
    if not path.startswith("/registry") or "//" in path or "\\" in path:
        return None
    return path + (f"?{parts.query}" if parts.query else "")


# -- the session --------------------------------------------------------------------------------
def _signed_in() -> tuple[staff_login.StaffSession, StaffMember]:
    try:
        session, member = staff_login.session_of_browser(request.cookies.get(staff_login.STAFF_COOKIE))
    except staff_login.SessionInvalid:
        raise NotSignedIn() from None
    g.staff_member = member
    g.staff_session = session
    return session, member


def signed_in(view: Callable) -> Callable:
    """The view runs for a signed-in member, passed as ``member``."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> Response:
        _session, member = _signed_in()
        return view(*args, member=member, **kwargs)

    return wrapper


def sensitive(view: Callable) -> Callable:
    """The view runs only if the member showed a factor in the last minutes (``REAUTH_WINDOW``)."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> Response:
        session, member = _signed_in()
        staff_login.require_recent_proof(session)
        return view(*args, member=member, **kwargs)

    return wrapper


def _start_session(member: StaffMember, method: str, response: Response) -> Response:
    _session, secret = staff_login.start_session(member, method)
    response.set_cookie(
        staff_login.STAFF_COOKIE,
        secret,
        max_age=staff_login.MAX_SESSION,
        path="/registry",
        secure=_origin().startswith("https://"),
        httponly=True,
        samesite="Strict",
    )
    return response


def _landing(member: StaffMember) -> str:
    """Where a member starts: operators in the console, the regulator in the aggregate reports."""
    if member.is_operator:
        return url_for("staff_ui.console")
    if member.is_regulator:
        return url_for("staff_ui.console_reports")
    return url_for("staff_ui.cabinet")


def _json_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


# -- home, sign-in, sign-out --------------------------------------------------------------------
@bp.get("/")
def home() -> Response:
    try:
        _session, member = _signed_in()
    except NotSignedIn:
        return redirect(url_for("staff_ui.sign_in_page"), code=303)
    return redirect(_landing(member), code=303)


@bp.get("/sign-in")
def sign_in_page() -> str:
    return render_template("consent_ui/registry/sign_in.html", next=_local_path(request.args.get("next")))


@bp.post("/sign-in/passkey/options")
def passkey_sign_in_options() -> Response:
    challenge_id, options = staff_login.sign_in_options()
    return jsonify(staff_login.encode_challenge_options(challenge_id, options))


@bp.post("/sign-in/passkey")
def sign_in_with_passkey() -> Response:
    body = _json_body()
    try:
        member = staff_login.sign_in_with_passkey(body.get("challenge_id"), body.get("credential"))
    except staff_login.SignInRefused as refusal:
        db.session.rollback()
        return _json_error("access_denied", say(refusal), 400)
    target = _local_path(body.get("next")) or _landing(member)
    return _start_session(member, staff_login.PASSKEY, jsonify({"next": target}))


@bp.post("/sign-in/code")
def sign_in_with_code() -> Response:
    email = request.form.get("email", "")
    code = request.form.get("code", "")
    kind = request.form.get("kind", "totp")
    try:
        if kind == "recovery":
            member = staff_login.sign_in_with_recovery_code(email, code)
        else:
            member = staff_login.sign_in_with_totp(email, code)
    except staff_login.SignInRefused as refusal:
        db.session.rollback()
        response = make_response(
            render_template(
                "consent_ui/registry/sign_in.html",
                next=_local_path(request.form.get("next")),
                code_error=_code_message(refusal),
                email=email[:254],
                kind=kind,
            )
        )
        response.status_code = 429 if isinstance(refusal, staff_login.TooManyWrongCodes) else 400
        return response
    method = staff_login.RECOVERY_CODE if kind == "recovery" else staff_login.TOTP
    target = _local_path(request.form.get("next")) or _landing(member)
    return _start_session(member, method, redirect(target, code=303))


def _code_message(refusal: staff_login.SignInRefused) -> object:
    if isinstance(refusal, staff_login.TooManyWrongCodes):
        return _l("Too many wrong codes: try again in %(seconds)s seconds.", seconds=refusal.retry_after)
    if isinstance(refusal, staff_login.CodeRefused):
        return _l("The address or the code is wrong.")
    return _l("This staff account is not active.")


@bp.post("/sign-out")
def sign_out() -> Response:
    session, _member = _signed_in()
    staff_login.end_session(session)
    response = redirect(url_for("staff_ui.sign_in_page"), code=303)
    response.delete_cookie(staff_login.STAFF_COOKIE, path="/registry")
    return response


# -- confirming it is you (before sensitive actions) ------------------------------------------------
@bp.get("/confirm")
@signed_in
def confirm_page(member: StaffMember) -> str:
    return render_template(
        "consent_ui/registry/confirm.html",
        next=_local_path(request.args.get("next")) or _landing(member),
        has_totp=staff_login.totp_of(member) is not None,
    )


@bp.post("/confirm/passkey")
def confirm_with_passkey() -> Response:
    session, member = _signed_in()
    body = _json_body()
    try:
        proven = staff_login.sign_in_with_passkey(body.get("challenge_id"), body.get("credential"))
        staff_login.record_proof(session, proven)
    except staff_login.SignInRefused as refusal:
        db.session.rollback()
        return _json_error("access_denied", say(refusal), 400)
    return jsonify({"next": _local_path(body.get("next")) or _landing(member)})


@bp.post("/confirm/code")
def confirm_with_code() -> Response:
    session, member = _signed_in()
    try:
        proven = staff_login.sign_in_with_totp(member.email, request.form.get("code", ""))
        staff_login.record_proof(session, proven)
    except staff_login.SignInRefused as refusal:
        db.session.rollback()
        response = make_response(
            render_template(
                "consent_ui/registry/confirm.html",
                next=_local_path(request.form.get("next")) or _landing(member),
                has_totp=staff_login.totp_of(member) is not None,
                code_error=_code_message(refusal),
            )
        )
        response.status_code = 400
        return response
    return redirect(_local_path(request.form.get("next")) or _landing(member), code=303)


# -- invitations ------------------------------------------------------------------------------------
def _invitation(secret: str) -> StaffMember:
    try:
        return staff_registry.pending_invitation(secret)
    except staff_registry.InvitationInvalid:
        audit("staff.refused", outcome="refused", reason="invitation_invalid")
        raise NotFound() from None


@bp.get("/join/<secret>")
def join_page(secret: str) -> str:
    invited = _invitation(secret)
    participant = (
        participant_registry.get_participant(invited.participant_id) if invited.participant_id else None
    )
    return render_template(
        "consent_ui/registry/join.html", invited=invited, participant=participant, secret=secret
    )


@bp.post("/join/<secret>/passkey/options")
def join_passkey_options(secret: str) -> Response:
    invited = _invitation(secret)
    challenge_id, options = staff_login.registration_options(invited)
    return jsonify(staff_login.encode_challenge_options(challenge_id, options))


@bp.post("/join/<secret>")
def join(secret: str) -> Response:
    invited = _invitation(secret)
    body = _json_body()
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    try:
        staff_registry.check_name(name)
        staff_login.register_passkey(
            invited, body.get("challenge_id"), body.get("credential"), body.get("passkey_name") or ""
        )
        member = staff_registry.accept_invitation(secret, name)
    except (staff_login.SignInRefused, StaffError) as refusal:
        db.session.rollback()
        return _json_error("invalid_request", say(refusal), 400)
    flash(str(_l("Welcome to Senim. Keep these recovery codes somewhere safe.")))
    return _start_session(
        member, staff_login.PASSKEY, jsonify({"next": url_for("staff_ui.recovery_codes_first")})
    )


# -- security: passkeys, authenticator app, recovery codes ------------------------------------------
def _security_page(member: StaffMember, **context: object) -> str:
    return render_template(
        "consent_ui/registry/security.html",
        passkeys=staff_login.passkeys_of(member),
        totp=staff_login.totp_of(member),
        recovery_left=staff_login.recovery_codes_left(member),
        **context,
    )


@bp.get("/security")
@signed_in
def security(member: StaffMember) -> str:
    return _security_page(member)


@bp.post("/security/passkeys/options")
@sensitive
def add_passkey_options(member: StaffMember) -> Response:
    challenge_id, options = staff_login.registration_options(member)
    return jsonify(staff_login.encode_challenge_options(challenge_id, options))


@bp.post("/security/passkeys")
@sensitive
def add_passkey(member: StaffMember) -> Response:
    body = _json_body()
    try:
        staff_login.register_passkey(
            member, body.get("challenge_id"), body.get("credential"), body.get("passkey_name") or ""
        )
    except staff_login.SignInRefused as refusal:
        db.session.rollback()
        return _json_error("invalid_request", say(refusal), 400)
    return jsonify({"next": url_for("staff_ui.security")})


@bp.post("/security/passkeys/<passkey_id>/remove")
@sensitive
def remove_passkey(member: StaffMember, passkey_id: str) -> Response:
    return act_then_return(
        lambda: staff_login.remove_passkey(member, passkey_id),
        url_for("staff_ui.security"),
        refusals=(staff_login.SignInRefused,),
        words=say,
    )


def _qr_svg(text: str) -> Markup:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    return Markup(svg[svg.index("<svg") :])  # noqa: S704 - made here from the URI, no user markup


@bp.post("/security/totp")
@sensitive
def begin_totp(member: StaffMember) -> str | Response:
    try:
        uri = staff_login.begin_totp_enrolment(member)
    except staff_login.SignInRefused as refusal:
        flash(say(refusal), "error")
        return redirect(url_for("staff_ui.security"), code=303)
    secret = uri.split("secret=", 1)[1].split("&", 1)[0]
    return render_template("consent_ui/registry/totp.html", qr=_qr_svg(uri), secret=secret)


@bp.post("/security/totp/confirm")
@signed_in
def confirm_totp(member: StaffMember) -> Response:
    return act_then_return(
        lambda: staff_login.confirm_totp_enrolment(member, request.form.get("code", "")),
        url_for("staff_ui.security"),
        _l("The authenticator app is set up."),
        refusals=(staff_login.SignInRefused,),
        words=say,
    )


@bp.post("/security/totp/remove")
@sensitive
def remove_totp(member: StaffMember) -> Response:
    return act_then_return(
        lambda: staff_login.remove_totp(member),
        url_for("staff_ui.security"),
        refusals=(staff_login.SignInRefused,),
        words=say,
    )


@bp.get("/security/recovery-codes/first")
@sensitive
def recovery_codes_first(member: StaffMember) -> str | Response:
    """Right after joining (the passkey just made is the fresh proof): the first set, made once."""
    if staff_login.recovery_codes_left(member) or staff_login.any_recovery_codes_made(member):
        return redirect(url_for("staff_ui.security"), code=303)
    return render_template(
        "consent_ui/registry/recovery_codes.html", codes=staff_login.new_recovery_codes(member)
    )


@bp.post("/security/recovery-codes")
@sensitive
def new_recovery_codes(member: StaffMember) -> str:
    return render_template(
        "consent_ui/registry/recovery_codes.html", codes=staff_login.new_recovery_codes(member)
    )


# -- the participant cabinet ---------------------------------------------------------------------------
@bp.get("/cabinet")
@signed_in
def cabinet(member: StaffMember) -> str | Response:
    if member.is_platform:
        return redirect(_landing(member), code=303)
    from registry.logos import logo_png
    from registry.notifications import list_notifications

    participant = participant_registry.get_participant(member.participant_id)
    return render_template(
        "consent_ui/registry/cabinet.html",
        participant=participant,
        has_logo=logo_png(participant.id) is not None,
        notifications=list_notifications(participant.id)[:10],
    )


# -- staff (a participant's, or the operators) -----------------------------------------------------------
def _colleague_manager(member: StaffMember) -> bool:
    return member.may("manage_operators" if member.is_operator else "manage_staff")


def _staff_page(member: StaffMember, status: int = 200, **context: object) -> Response:
    response = make_response(
        render_template(
            "consent_ui/registry/staff.html",
            colleagues=staff_registry.staff_of(member.participant_id),
            may_manage=_colleague_manager(member),
            roles=staff_registry.PLATFORM_ROLES if member.is_operator else staff_registry.PARTICIPANT_ROLES,
            **context,
        )
    )
    response.status_code = status
    return response


@bp.get("/staff")
@signed_in
def staff(member: StaffMember) -> Response:
    if member.is_regulator:
        raise NotFound()  # the regulator reads reports; the operators manage the platform's staff
    return _staff_page(member)


@bp.post("/staff/invite")
@sensitive
def invite(member: StaffMember) -> Response:
    try:
        invited, secret = staff_registry.invite_colleague(
            member,
            email=request.form.get("email", ""),
            role=request.form.get("role", ""),
            name=request.form.get("name", ""),
        )
    except NotPermitted:
        raise
    except StaffError as refusal:
        db.session.rollback()
        return _staff_page(member, 400, invite_error=str(refusal))
    link = _origin() + url_for("staff_ui.join_page", secret=secret)
    return _staff_page(member, invited=invited, invitation_link=link)


def _colleague_action(action: Callable[[], object]) -> Response:
    return act_then_return(action, url_for("staff_ui.staff"))


@bp.post("/staff/<staff_id>/role")
@sensitive
def change_role(member: StaffMember, staff_id: str) -> Response:
    return _colleague_action(
        lambda: staff_registry.change_role(member, staff_id, request.form.get("role", ""))
    )


@bp.post("/staff/<staff_id>/remove")
@sensitive
def remove_colleague(member: StaffMember, staff_id: str) -> Response:
    return _colleague_action(lambda: staff_registry.remove(member, staff_id))


# -- the operator console ------------------------------------------------------------------------------
def operator_only(member: StaffMember) -> StaffMember:
    """The member, if an operator: the console does not exist for a participant's staff."""
    if not member.is_operator:
        raise NotFound()
    return member


def participant_of(member: StaffMember) -> str:
    """The member's participant: the platform's staff have no cabinet (its pages are "not found")."""
    if member.is_platform:
        raise NotFound()
    return member.participant_id


@bp.get("/console")
@signed_in
def console(member: StaffMember) -> str:
    operator_only(member)
    return render_template(
        "consent_ui/registry/console.html", participants=participant_registry.list_participants()
    )


@bp.post("/console/participants/<participant_id>/block")
@sensitive
def block_participant(member: StaffMember, participant_id: str) -> Response:
    staff_registry.require_permission(operator_only(member), "block_participants")

    def block() -> None:
        participant_registry.block_participant(participant_id, request.form.get("reason", ""))
        audit("console.participant_blocked", participant_id=participant_id, by=member.id)

    return act_then_return(block, url_for("staff_ui.console"))


@bp.post("/console/participants/<participant_id>/unblock")
@sensitive
def unblock_participant(member: StaffMember, participant_id: str) -> Response:
    staff_registry.require_permission(operator_only(member), "block_participants")

    def unblock() -> None:
        participant_registry.unblock_participant(participant_id)
        audit("console.participant_unblocked", participant_id=participant_id, by=member.id)

    return act_then_return(unblock, url_for("staff_ui.console"))


# -- the audit log ---------------------------------------------------------------------------------
AUDIT_PAGE = 100


def _day_ms(text: str | None, end: bool = False) -> int | None:
    """A date (YYYY-MM-DD, UTC) as milliseconds since the epoch: its start, or the next day's."""
    import datetime

    try:
        day = datetime.date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    if end:
        day += datetime.timedelta(days=1)
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp() * 1000)


@bp.get("/console/audit")
@signed_in
def audit_log(member: StaffMember) -> str:
    from senim.audit import find_audit_events

    staff_registry.require_permission(operator_only(member), "read_audit_log")
    args = request.args
    before = args.get("before", "")
    filters = {
        "event": args.get("event", "").strip() or None,
        "outcome": args.get("outcome", "").strip() or None,
        "participant_id": args.get("participant", "").strip() or None,
        "actor_id": args.get("actor", "").strip() or None,
        "since_ms": _day_ms(args.get("from")),
        "until_ms": _day_ms(args.get("to"), end=True),
    }
    events = find_audit_events(
        **filters, before_id=int(before) if before.isdigit() else None, limit=AUDIT_PAGE + 1
    )
    more = len(events) > AUDIT_PAGE
    return render_template(
        "consent_ui/registry/audit.html",
        events=events[:AUDIT_PAGE],
        next_before=events[AUDIT_PAGE - 1].id if more else None,
        query={k: v for k, v in args.items() if k != "before"},
    )
