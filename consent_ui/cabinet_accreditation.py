"""Joining the platform: a participant's sign-up, its profile, accreditation and certificates,
and the operators' accreditation queue.

- **Sign-up** (``/registry/sign-up``): a legal entity registers itself (BIN,
  name, contacts) together with its first admin, who creates a passkey in
  the same step. The passkey is verified before anything is stored; the
  participant starts ``registered``: it may not act until accredited.
- **Profile**: the admin edits the contacts and description and uploads
  the logo (``registry.logos``).
- **Accreditation**: the admin applies to be accredited as API provider
  and/or API user with PDF documents; the status and history of every
  application are shown; once approved, the accreditation certificate
  (signed JWT and PDF) is linked here.
- **Certificates**: admins and developers have the platform's CA sign a CSR
  into a client certificate (mTLS or request signing), download it and
  revoke it.
- **Operators**: the queue of open applications, oldest first; an
  application's documents and history; start review, approve, or reject
  with a reason. Every step is audited by the services.
"""

from __future__ import annotations

import uuid

from flask import Response, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from consent_ui.staff_pages import (
    UPLOAD_LIMITS,
    NotFound,
    _json_error,
    _start_session,
    act_then_return,
    bp,
    operator_only,
    participant_of,
    say,
    sensitive,
    signed_in,
)
from idp import staff_login
from registry import accreditation
from registry import certificate_authority as ca
from registry import participants as participant_registry
from registry.accreditation_certificate import current_certificate
from registry.logos import set_logo
from registry.participants import API_PROVIDER, API_USER, ParticipantError
from registry.staff import (
    StaffError,
    StaffMember,
    add_first_admin,
    check_name,
    member_by_email,
    normalise_email,
    require_permission,
)
from senim.audit import audit
from senim.database import db

#: Per client IP (Flask-Limiter): registering an organisation.
RATE_LIMITS = {
    "staff_ui.sign_up": "5 per minute; 30 per hour",
    "staff_ui.sign_up_passkey_options": "20 per minute",
}
#: The documents of one application, with the form around them.
MAX_APPLICATION_UPLOAD = accreditation.MAX_DOCUMENTS * accreditation.MAX_DOCUMENT_BYTES + 256 * 1024
MAX_LOGO_UPLOAD = 512 * 1024
APPLICATION_STATUS_WORDS = {
    "submitted": _l("Submitted, waiting for an operator"),
    "in_review": _l("In review"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
}


# The app's 1 MB limit would refuse an application's PDFs (set before CSRF reads the form).
UPLOAD_LIMITS.update(
    {
        "staff_ui.apply_for_accreditation": MAX_APPLICATION_UPLOAD,
        "staff_ui.upload_logo": MAX_LOGO_UPLOAD,
        "staff_ui.upload_app_logo": MAX_LOGO_UPLOAD,
    }
)


@bp.context_processor
def _accreditation_words() -> dict:
    return {"APPLICATION_STATUS_WORDS": APPLICATION_STATUS_WORDS}


# -- sign-up -------------------------------------------------------------------------------------
SIGN_UP_FIELDS = ("name", "bin", "contact_email", "contact_phone", "description", "admin_name", "admin_email")


def _sign_up_form() -> dict:
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    return {field: body.get(field) if isinstance(body.get(field), str) else "" for field in SIGN_UP_FIELDS}


def _check_sign_up(form: dict) -> None:
    """Every field checked before a passkey is asked for (and again before anything is stored)."""
    participant_registry.check_new_participant(
        name=form["name"],
        bin=form["bin"],
        contact_email=form["contact_email"],
        contact_phone=form["contact_phone"],
        description=form["description"] or None,
    )
    check_name(form["admin_name"])
    if member_by_email(normalise_email(form["admin_email"])) is not None:
        raise StaffError(f"{normalise_email(form['admin_email'])} already has a Senim staff account")


@bp.get("/sign-up")
def sign_up_page() -> str:
    return render_template("consent_ui/registry/sign_up.html")


@bp.post("/sign-up/passkey/options")
def sign_up_passkey_options() -> Response:
    form = _sign_up_form()
    try:
        _check_sign_up(form)
    except (ParticipantError, StaffError) as refusal:
        return _json_error("invalid_request", str(refusal), 400)
    staff_id = str(uuid.uuid4())  # the admin-to-be: the challenge is bound to this id
    challenge_id, options = staff_login.registration_options_for(
        staff_id, normalise_email(form["admin_email"]), check_name(form["admin_name"])
    )
    answer = staff_login.encode_challenge_options(challenge_id, options)
    answer["staff_id"] = staff_id
    return jsonify(answer)


@bp.post("/sign-up")
def sign_up() -> Response:
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    form = _sign_up_form()
    staff_id = body.get("staff_id") if isinstance(body.get("staff_id"), str) else ""
    try:
        _check_sign_up(form)
        new_passkey = staff_login.verify_new_passkey(
            staff_id, body.get("challenge_id"), body.get("credential")
        )
        # The participant, its admin and the passkey are stored together, or none of them.
        participant = participant_registry.register_participant(
            name=form["name"],
            bin=form["bin"],
            contact_email=form["contact_email"],
            contact_phone=form["contact_phone"],
            description=form["description"] or None,
            commit=False,
        )
        member = add_first_admin(participant.id, staff_id, email=form["admin_email"], name=form["admin_name"])
        passkey = staff_login.keep_passkey(new_passkey, body.get("passkey_name") or "", commit=False)
        db.session.commit()
    except (ParticipantError, StaffError, staff_login.SignInRefused) as refusal:
        db.session.rollback()
        return _json_error("invalid_request", say(refusal), 400)
    except IntegrityError:  # the same BIN or address registered in parallel
        db.session.rollback()
        return _json_error(
            "invalid_request", str(_l("This organisation or address is already registered.")), 400
        )
    # Audited once stored (a sign-up that failed at the commit leaves no events behind).
    audit("participant.registered", participant_id=participant.id, bin=participant.bin)
    audit("staff.joined", staff_id=member.id, participant_id=participant.id, role=member.role, via="sign_up")
    audit("staff.passkey_added", staff_id=member.id, passkey_id=passkey.id)
    flash(
        str(
            _l(
                "%(name)s is registered. Keep these recovery codes, then apply for accreditation.",
                name=participant.name,
            )
        )
    )
    return _start_session(
        member, staff_login.PASSKEY, jsonify({"next": url_for("staff_ui.recovery_codes_first")})
    )


# -- profile -----------------------------------------------------------------------------------
@bp.post("/cabinet/profile")
@sensitive
def update_profile(member: StaffMember) -> Response:
    require_permission(member, "edit_profile")
    participant_id = participant_of(member)
    form = request.form
    return act_then_return(
        lambda: participant_registry.update_profile(
            participant_id,
            name=form.get("name", ""),
            contact_email=form.get("contact_email", ""),
            contact_phone=form.get("contact_phone", ""),
            description=form.get("description", "").strip() or None,
        ),
        url_for("staff_ui.cabinet"),
        _l("The profile is saved."),
    )


@bp.post("/cabinet/logo")
@sensitive
def upload_logo(member: StaffMember) -> Response:
    require_permission(member, "edit_profile")
    upload = request.files.get("logo")
    participant_id = participant_of(member)
    return act_then_return(
        lambda: set_logo(participant_id, upload.read() if upload else b""),
        url_for("staff_ui.cabinet"),
        _l("The logo is saved."),
    )


# -- accreditation ---------------------------------------------------------------------------------
@bp.get("/accreditation")
@signed_in
def accreditation_page(member: StaffMember) -> str:
    participant = participant_registry.get_participant(participant_of(member))
    applications = accreditation.applications_of(participant.id)
    return render_template(
        "consent_ui/registry/accreditation.html",
        participant=participant,
        applications=[(a, accreditation.history(a.id), accreditation.documents(a.id)) for a in applications],
        open_application=any(a.status in ("submitted", "in_review") for a in applications),
        certificate=current_certificate(participant.id),
        may_apply=member.may("apply_for_accreditation"),
        roles_left=[r for r in (API_PROVIDER, API_USER) if r not in (participant.roles or [])],
        max_documents=accreditation.MAX_DOCUMENTS,
        max_mb=accreditation.MAX_DOCUMENT_BYTES // (1024 * 1024),
    )


@bp.post("/accreditation")
@sensitive
def apply_for_accreditation(member: StaffMember) -> Response:
    require_permission(member, "apply_for_accreditation")
    documents = [
        accreditation.Document(
            filename=f.filename or "document.pdf", content=f.read(), content_type=f.mimetype
        )
        for f in request.files.getlist("documents")
        if f and f.filename
    ]
    participant_id = participant_of(member)
    return act_then_return(
        lambda: accreditation.apply(participant_id, request.form.getlist("roles"), documents, member.id),
        url_for("staff_ui.accreditation_page"),
        _l("The application is submitted. An operator reviews it; its status is shown here."),
    )


def _document_of(application_id: str, document_id: str) -> Response:
    for document in accreditation.documents(application_id):
        if document.id == document_id:
            response = make_response(document.content)
            response.headers["Content-Type"] = "application/pdf"
            # Always a download, never shown inline: a PDF from a participant is not trusted content.
            response.headers["Content-Disposition"] = (
                f'attachment; filename="document-{document.position + 1}.pdf"'
            )
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
    raise NotFound()


def _application(application_id: str) -> accreditation.AccreditationApplication:
    try:
        return accreditation.get_application(application_id)
    except accreditation.ApplicationNotFound:
        raise NotFound() from None


@bp.get("/accreditation/<application_id>/documents/<document_id>")
@signed_in
def application_document(member: StaffMember, application_id: str, document_id: str) -> Response:
    application = _application(application_id)
    if not member.is_operator and application.participant_id != member.participant_id:
        raise NotFound()
    return _document_of(application.id, document_id)


# -- client certificates (the platform's CA) -------------------------------------------------------
@bp.get("/certificates")
@signed_in
def certificates(member: StaffMember) -> str:
    participant_id = participant_of(member)
    return render_template(
        "consent_ui/registry/certificates.html",
        certificates=ca.list_certificates(participant_id),
        may_manage=member.may("manage_certificates"),
        reasons=sorted(ca.REVOCATION_REASONS),
    )


@bp.post("/certificates")
@sensitive
def sign_certificate(member: StaffMember) -> Response:
    require_permission(member, "manage_certificates")
    upload = request.files.get("csr")
    csr = upload.read() if upload and upload.filename else request.form.get("csr_pem", "").encode()
    try:
        issued = ca.sign_csr(participant_of(member), csr, request.form.get("purpose", ca.MTLS))
        flash(str(_l("The certificate %(serial)s is issued.", serial=issued.serial)))
    except (ca.CertificateAuthorityError, ParticipantError) as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
    return redirect(url_for("staff_ui.certificates"), code=303)


def _own_certificate(member: StaffMember, serial: str) -> ca.IssuedCertificate:
    try:
        certificate = ca.get_certificate(serial)
    except ca.CertificateNotFound:
        raise NotFound() from None
    if not member.is_operator and certificate.participant_id != member.participant_id:
        raise NotFound()
    return certificate


@bp.get("/certificates/<serial>.pem")
@signed_in
def certificate_pem(member: StaffMember, serial: str) -> Response:
    certificate = _own_certificate(member, serial)
    response = make_response(certificate.certificate_pem)
    response.headers["Content-Type"] = "application/x-pem-file"
    response.headers["Content-Disposition"] = f'attachment; filename="{certificate.serial}.pem"'
    return response


@bp.post("/certificates/<serial>/revoke")
@sensitive
def revoke_certificate(member: StaffMember, serial: str) -> Response:
    if not member.is_operator:
        require_permission(member, "manage_certificates")
    certificate = _own_certificate(member, serial)
    back = "staff_ui.console_certificates" if member.is_operator else "staff_ui.certificates"
    return act_then_return(
        lambda: ca.revoke_certificate(certificate.serial, request.form.get("reason", ""), actor_id=member.id),
        url_for(back),
        _l("The certificate is revoked: it is on the CRL from now on."),
    )


# -- the operators' queue --------------------------------------------------------------------------
@bp.get("/console/applications")
@signed_in
def accreditation_queue(member: StaffMember) -> str:
    operator_only(member)
    queue = accreditation.list_queue()
    return render_template(
        "consent_ui/registry/queue.html",
        queue=[(a, participant_registry.get_participant(a.participant_id)) for a in queue],
    )


@bp.get("/console/applications/<application_id>")
@signed_in
def application_review(member: StaffMember, application_id: str) -> str:
    operator_only(member)
    application = _application(application_id)
    return render_template(
        "consent_ui/registry/application.html",
        application=application,
        participant=participant_registry.get_participant(application.participant_id),
        events=accreditation.history(application.id),
        documents=accreditation.documents(application.id),
    )


def _decide(member: StaffMember, application_id: str, decision: str) -> Response:
    require_permission(operator_only(member), "review_accreditation")
    application = _application(application_id)
    try:
        if decision == "review":
            accreditation.start_review(application.id, member.id)
        elif decision == "approve":
            accreditation.approve(application.id, member.id)
            flash(str(_l("Approved: the participant is in the register and has its certificate.")))
        else:
            accreditation.reject(application.id, member.id, request.form.get("reason", ""))
            flash(str(_l("Rejected: the participant sees the reason and may apply again.")))
    except (accreditation.AccreditationError, ParticipantError) as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
    return redirect(url_for("staff_ui.application_review", application_id=application.id), code=303)


@bp.post("/console/applications/<application_id>/review")
@sensitive
def start_review(member: StaffMember, application_id: str) -> Response:
    return _decide(member, application_id, "review")


@bp.post("/console/applications/<application_id>/approve")
@sensitive
def approve_application(member: StaffMember, application_id: str) -> Response:
    return _decide(member, application_id, "approve")


@bp.post("/console/applications/<application_id>/reject")
@sensitive
def reject_application(member: StaffMember, application_id: str) -> Response:
    return _decide(member, application_id, "reject")


@bp.get("/console/certificates")
@signed_in
def console_certificates(member: StaffMember) -> str:
    operator_only(member)
    return render_template(
        "consent_ui/registry/certificates.html",
        certificates=ca.list_certificates(),
        may_manage=False,
        operator_view=True,
        reasons=sorted(ca.REVOCATION_REASONS),
        owners={p.id: p for p in participant_registry.list_participants()},
    )


# -- the public register (a page; the JSON is /registry/v1/register) -----------------------------------
@bp.get("/register")
def register_page() -> str | tuple[str, int]:
    from registry.register import UnknownRegisterRole, public_register

    role = request.args.get("role") or None
    try:
        entries = public_register(role)
    except UnknownRegisterRole:
        raise NotFound() from None
    return render_template("consent_ui/registry/register.html", entries=entries, role=role)
