"""The customer's appeals in their cabinet: "My appeals".

A signed-in customer (``cabinet_pages``: the same two factors as an
authorization) files a question, an incident or a complaint, linking one of
their consents (a complaint is then about the consent's API user), with
attachments; sees their appeals; comments on one, closes it once resolved
or reopens it with a reason. Another customer's appeal is "not found", as a
consent is. The rules are ``registry.appeals``'s.
"""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from consent_ui.cabinet_appeals import (
    FILING_TOO_FAST,
    appeal_words,
    attachment_download,
    attachments_sent,
    filing_allowed,
    refusal_words,
)
from consent_ui.cabinet_pages import _cabinet_page, _signed_in
from consent_ui.login_pages import UPLOAD_LIMITS, bp
from idp.consents.customer import consents_of_customer
from registry import appeals
from registry.appeals import Actor
from registry.participants import get_participant
from senim.audit import audit
from senim.database import db

#: The attachments of one appeal, with the form around them.
UPLOAD_LIMITS["consent_ui.customer_file_appeal"] = (
    appeals.MAX_ATTACHMENTS * appeals.MAX_ATTACHMENT_BYTES + 256 * 1024
)


bp.context_processor(appeal_words)


@bp.errorhandler(appeals.AppealNotFound)
def _appeal_not_found(error: appeals.AppealNotFound) -> Response:
    db.session.rollback()
    audit("cabinet.appeal_not_found", outcome="refused")
    return _cabinet_page(
        "consent_ui/problem.html",
        404,
        reason="not_found",
        title=_l("Appeal not found"),
        message=_l("You have no appeal with this number."),
        in_cabinet=True,
        signed_in=True,
    )


def _page_of(appeal_id: str, **context: object) -> Response:
    return redirect(url_for("consent_ui.customer_appeal", appeal_id=appeal_id, **context), code=303)


@bp.get("/cabinet/appeals")
def customer_appeals() -> Response:
    _session, iin = _signed_in()
    return _cabinet_page(
        "consent_ui/cabinet_appeals.html", appeals=appeals.appeals_of_customer(iin), signed_in=True
    )


@bp.get("/cabinet/appeals/new")
def customer_new_appeal() -> Response:
    _session, iin = _signed_in()
    return _cabinet_page(
        "consent_ui/cabinet_appeal_new.html",
        consents=consents_of_customer(iin),
        categories=appeals.CUSTOMER_CATEGORIES,
        chosen_consent=request.args.get("consent_id", ""),
        error=request.args.get("error") == "1",
        max_attachments=appeals.MAX_ATTACHMENTS,
        max_mb=appeals.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        signed_in=True,
    )


def _form_refused(iin: str, status: int, refusal: str) -> Response:
    return _cabinet_page(
        "consent_ui/cabinet_appeal_new.html",
        status,
        consents=consents_of_customer(iin),
        categories=appeals.CUSTOMER_CATEGORIES,
        chosen_consent=request.form.get("consent_id", ""),
        refusal=refusal,
        max_attachments=appeals.MAX_ATTACHMENTS,
        max_mb=appeals.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        signed_in=True,
    )


@bp.post("/cabinet/appeals")
def customer_file_appeal() -> Response:
    _session, iin = _signed_in()
    form = request.form
    if not filing_allowed(f"customer:{iin}"):
        return _form_refused(iin, 429, str(FILING_TOO_FAST))
    files = attachments_sent()
    try:
        appeal = appeals.file_appeal(
            Actor.of_customer(iin),
            category=form.get("category", ""),
            subject=form.get("subject", ""),
            text=form.get("text", ""),
            consent_id=form.get("consent_id"),
            attachments=files,
        )
    except appeals.AppealError as refusal:
        db.session.rollback()
        return _form_refused(iin, 400, refusal_words(refusal))
    return _page_of(appeal.id, filed="1")


@bp.get("/cabinet/appeals/<appeal_id>")
def customer_appeal(appeal_id: str) -> Response:
    _session, iin = _signed_in()
    appeal, _side = appeals.get_appeal(Actor.of_customer(iin), appeal_id)
    concerns = get_participant(appeal.concerns_id) if appeal.concerns_id else None
    return _cabinet_page(
        "consent_ui/cabinet_appeal.html",
        appeal=appeal,
        concerns=concerns,
        events=appeals.history(appeal.id),
        attachments=appeals.attachments_of(appeal.id),
        filed=request.args.get("filed") == "1",
        refusal=request.args.get("refused"),
        signed_in=True,
    )


@bp.get("/cabinet/appeals/<appeal_id>/attachments/<attachment_id>")
def customer_appeal_attachment(appeal_id: str, attachment_id: str) -> Response:
    _session, iin = _signed_in()
    appeal, _side = appeals.get_appeal(Actor.of_customer(iin), appeal_id)
    return attachment_download(appeal.id, attachment_id, appeals.AppealNotFound)


def _act(appeal_id: str, action: object) -> Response:
    try:
        action()
    except appeals.AppealNotFound:
        raise
    except appeals.AppealError:
        db.session.rollback()
        return _page_of(appeal_id, refused="1")
    return _page_of(appeal_id)


@bp.post("/cabinet/appeals/<appeal_id>/comments")
def customer_comment(appeal_id: str) -> Response:
    _session, iin = _signed_in()
    actor = Actor.of_customer(iin)
    return _act(appeal_id, lambda: appeals.comment(actor, appeal_id, request.form.get("text", "")))


@bp.post("/cabinet/appeals/<appeal_id>/status")
def customer_move_appeal(appeal_id: str) -> Response:
    _session, iin = _signed_in()
    actor = Actor.of_customer(iin)
    return _act(
        appeal_id,
        lambda: appeals.change_status(
            actor, appeal_id, request.form.get("to", ""), request.form.get("reason", "")
        ),
    )
