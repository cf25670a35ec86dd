"""Appeals on the staff pages: the cabinet's "Appeals" tab and the operators' queues.

- **Cabinet** (a participant's staff): the appeals the participant filed and
  those addressed to it; filing one (category, subject, text, links to a
  consent, an API or a routed call by its interaction id, attachments); an
  appeal's page with its history, comments, the answer and the filer's
  closing or reopening.
- **Console** (operators): a queue per team, the overdue list, each team's
  SLA statistics; on an appeal's page, taking it, moving it through the
  workflow and resolving it (a dispute with its outcome and, where money is
  involved, the billing adjustment).

The rules (who sees, who may move what) are ``registry.appeals``'s; an
appeal that is not the member's to see is "not found".
"""

from __future__ import annotations

import hashlib

from flask import Response, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from limits import parse_many

from consent_ui.staff_pages import (
    UPLOAD_LIMITS,
    NotFound,
    act_then_return,
    bp,
    operator_only,
    sensitive,
    signed_in,
)
from registry import appeals
from registry import participants as participant_registry
from registry.appeals import Actor
from registry.staff import StaffMember, require_permission, staff_of
from registry.tariffs import format_tenge
from senim import clock
from senim.database import db

#: The attachments of one appeal, with the form around them.
MAX_APPEAL_UPLOAD = appeals.MAX_ATTACHMENTS * appeals.MAX_ATTACHMENT_BYTES + 256 * 1024
UPLOAD_LIMITS["staff_ui.file_appeal"] = MAX_APPEAL_UPLOAD
#: Appeals filed per account (a staff member, a customer), counted in the app's Flask-Limiter
#: storage; per client IP, RATE_LIMITS in staff_pages and login_pages.
ACCOUNT_FILING_LIMITS = "5 per minute; 20 per hour"
FILING_TOO_FAST = _l("Too many appeals sent from your account in a short time. Please wait and try again.")
TOO_MANY_OPEN = _l(
    "You have %(count)s appeals that are not closed: close the settled ones before filing another."
)

CATEGORY_WORDS = {
    "question": _l("Question"),
    "dispute": _l("Dispute"),
    "incident": _l("Incident"),
    "complaint": _l("Complaint about a participant"),
}
APPEAL_STATUS_WORDS = {
    "new": _l("New"),
    "in_progress": _l("In progress"),
    "waiting_for_reply": _l("Waiting for a reply"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
TEAM_WORDS = {
    "support": _l("Support"),
    "operations": _l("Operations"),
    "billing": _l("Billing"),
    "compliance": _l("Compliance"),
}
OUTCOME_WORDS = {
    "upheld": _l("Upheld"),
    "partly_upheld": _l("Partly upheld"),
    "rejected": _l("Rejected"),
}
SIDE_WORDS = {
    "filer": _l("Filer"),
    "handler": _l("Operator"),
    "addressed": _l("Counterparty"),
    "system": _l("Senim"),
}
ACTION_WORDS = {
    "filed": _l("Filed"),
    "commented": _l("Comment"),
    "status_changed": _l("Status changed"),
    "replied": _l("Reply received"),
    "assigned": _l("Assigned"),
    "resolved": _l("Resolved"),
    "reopened": _l("Reopened"),
    "reminded": _l("Reminder: the deadline is near"),
    "escalated": _l("Escalated: the deadline has passed"),
}


@bp.context_processor
def appeal_words() -> dict:
    """The words of an appeal's category, status, team… for the templates (staff and customers)."""
    return {
        "CATEGORY_WORDS": CATEGORY_WORDS,
        "APPEAL_STATUS_WORDS": APPEAL_STATUS_WORDS,
        "TEAM_WORDS": TEAM_WORDS,
        "OUTCOME_WORDS": OUTCOME_WORDS,
        "SIDE_WORDS": SIDE_WORDS,
        "ACTION_WORDS": ACTION_WORDS,
    }


def _appeal(member: StaffMember, appeal_id: str) -> tuple[appeals.Appeal, str]:
    try:
        return appeals.get_appeal(Actor.of_staff(member), appeal_id)
    except appeals.AppealNotFound:
        raise NotFound() from None


def attachments_sent() -> list[appeals.Attachment]:
    """The files of the form's ``attachments`` field (the service checks their type and size)."""
    return [
        appeals.Attachment(filename=f.filename or "attachment", content=f.read())
        for f in request.files.getlist("attachments")
        if f and f.filename
    ]


def filing_allowed(account: str) -> bool:
    """Counts one filing of ``account`` ("staff:<id>", "customer:<IIN>"); False once over
    ``ACCOUNT_FILING_LIMITS``. The key is hashed: no IIN reaches the limiter's storage."""
    limiter = current_app.extensions["senim.limiter"].limiter
    key = hashlib.sha256(account.encode()).hexdigest()
    # every window counts the attempt (no short-circuit)
    return all([limiter.hit(item, "appeal-filing", key) for item in parse_many(ACCOUNT_FILING_LIMITS)])


def refusal_words(refusal: appeals.AppealError) -> str:
    """A filing's refusal in the page's language where the pages word it, else as the rules say."""
    if isinstance(refusal, appeals.TooManyOpenAppeals):
        return str(TOO_MANY_OPEN % {"count": appeals.MAX_OPEN_PER_FILER})
    return str(refusal)


def _names() -> dict[str, str]:
    return {p.id: p.name for p in participant_registry.list_participants()}


def _back(appeal_id: str) -> str:
    return url_for("staff_ui.appeal_page", appeal_id=appeal_id)


# -- the cabinet -------------------------------------------------------------------------------
@bp.get("/appeals")
@signed_in
def appeals_page(member: StaffMember) -> str | Response:
    if member.is_operator:
        return redirect(url_for("staff_ui.console_appeals"), code=303)
    if member.is_platform:
        raise NotFound()
    return render_template(
        "consent_ui/registry/appeals.html",
        filed=appeals.appeals_filed_by(member.participant_id),
        addressed=appeals.appeals_addressed_to(member.participant_id),
        names=_names(),
        may_file=member.may("file_appeals"),
    )


@bp.get("/appeals/new")
@signed_in
def new_appeal(member: StaffMember) -> str:
    if member.is_regulator:
        raise NotFound()
    require_permission(member, "file_appeals")
    return render_template(
        "consent_ui/registry/appeal_new.html",
        categories=appeals.CATEGORIES,
        participants=[p for p in participant_registry.list_participants() if p.id != member.participant_id],
        max_attachments=appeals.MAX_ATTACHMENTS,
        max_mb=appeals.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        form=request.args,
    )


@bp.post("/appeals")
@signed_in
def file_appeal(member: StaffMember) -> Response:
    if member.is_regulator:
        raise NotFound()
    require_permission(member, "file_appeals")
    form = request.form
    keep = {k: form.get(k, "") for k in ("category", "subject", "interaction_id", "consent_id")}
    back = url_for("staff_ui.new_appeal", **{k: v for k, v in keep.items() if v})
    if not filing_allowed(f"staff:{member.id}"):
        flash(str(FILING_TOO_FAST), "error")
        return redirect(back, code=303)
    files = attachments_sent()
    try:
        appeal = appeals.file_appeal(
            Actor.of_staff(member),
            category=form.get("category", ""),
            subject=form.get("subject", ""),
            text=form.get("text", ""),
            consent_id=form.get("consent_id"),
            api_id=form.get("api_id"),
            interaction_id=form.get("interaction_id"),
            concerns_id=form.get("concerns_id"),
            attachments=files,
        )
    except appeals.AppealError as refusal:
        db.session.rollback()
        flash(refusal_words(refusal), "error")
        return redirect(back, code=303)
    flash(str(_l("Appeal %(number)s is filed.", number=appeal.number)))
    return redirect(_back(appeal.id), code=303)


@bp.get("/appeals/<appeal_id>")
@signed_in
def appeal_page(member: StaffMember, appeal_id: str) -> str:
    appeal, side = _appeal(member, appeal_id)
    moves = [
        to for (start, to), sides in appeals.TRANSITIONS.items() if start == appeal.status and side in sides
    ]
    return render_template(
        "consent_ui/registry/appeal.html",
        appeal=appeal,
        side=side,
        events=appeals.history(appeal.id),
        attachments=appeals.attachments_of(appeal.id),
        names=_names(),
        operators={m.id: m.name for m in staff_of(None) if m.is_operator and m.status == "active"},
        moves=[to for to in moves if to != appeals.RESOLVED],
        may_resolve=appeals.RESOLVED in moves,
        may_comment=appeal.status != appeals.CLOSED and appeals.may_speak(Actor.of_staff(member), side),
        # the one a dispute moves money with (kept through reopenings; a second amount is refused)
        adjustment=appeals.recorded_adjustment(appeal.id),
        tenge=format_tenge,
        outcomes=appeals.OUTCOMES,
        overdue=appeal.status in appeals.OPEN_STATUSES and appeal.deadline_at < _now(),
    )


def _now() -> int:
    return clock.now_int()


@bp.get("/appeals/<appeal_id>/attachments/<attachment_id>")
@signed_in
def appeal_attachment(member: StaffMember, appeal_id: str, attachment_id: str) -> Response:
    appeal, _side = _appeal(member, appeal_id)
    return attachment_download(appeal.id, attachment_id, NotFound)


def attachment_download(appeal_id: str, attachment_id: str, not_found: type[Exception]) -> Response:
    """An attachment as a download (never shown inline: a file from a party is not trusted content)."""
    for attachment in appeals.attachments_of(appeal_id):
        if attachment.id == attachment_id:
            response = make_response(attachment.content)
            response.headers["Content-Type"] = attachment.content_type
            extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}[
                attachment.content_type
            ]
            response.headers["Content-Disposition"] = (
                f'attachment; filename="attachment-{attachment.position + 1}.{extension}"'
            )
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
    raise not_found()


@bp.post("/appeals/<appeal_id>/comments")
@signed_in
def comment_on_appeal(member: StaffMember, appeal_id: str) -> Response:
    appeal, _side = _appeal(member, appeal_id)
    return act_then_return(
        lambda: appeals.comment(Actor.of_staff(member), appeal.id, request.form.get("text", "")),
        _back(appeal.id),
        _l("The comment is added."),
    )


@bp.post("/appeals/<appeal_id>/status")
@signed_in
def move_appeal(member: StaffMember, appeal_id: str) -> Response:
    appeal, _side = _appeal(member, appeal_id)
    return act_then_return(
        lambda: appeals.change_status(
            Actor.of_staff(member), appeal.id, request.form.get("to", ""), request.form.get("reason", "")
        ),
        _back(appeal.id),
        _l("The status is changed."),
    )


@bp.post("/appeals/<appeal_id>/assign")
@signed_in
def assign_appeal(member: StaffMember, appeal_id: str) -> Response:
    operator_only(member)
    appeal, _side = _appeal(member, appeal_id)
    return act_then_return(
        lambda: appeals.assign(
            Actor.of_staff(member), appeal.id, request.form.get("assignee_id") or member.id
        ),
        _back(appeal.id),
        _l("The appeal is assigned."),
    )


@bp.post("/appeals/<appeal_id>/resolve")
@sensitive
def resolve_appeal(member: StaffMember, appeal_id: str) -> Response:
    operator_only(member)
    appeal, _side = _appeal(member, appeal_id)
    form = request.form
    resolution = appeals.Resolution(
        summary=form.get("summary", ""),
        outcome=form.get("outcome") or None,
        amount_tenge=form.get("amount", ""),
        direction=form.get("direction", appeals.REFUND),
        adjustment_reason=form.get("adjustment_reason", ""),
    )
    return act_then_return(
        lambda: appeals.resolve(Actor.of_staff(member), appeal.id, resolution),
        _back(appeal.id),
        _l("The appeal is resolved."),
    )


# -- the console ---------------------------------------------------------------------------------
@bp.get("/console/appeals")
@signed_in
def console_appeals(member: StaffMember) -> str:
    require_permission(operator_only(member), "handle_appeals")
    team = request.args.get("team", appeals.SUPPORT)
    if team not in appeals.TEAMS:
        raise NotFound()
    return render_template(
        "consent_ui/registry/console_appeals.html",
        team=team,
        teams=appeals.TEAMS,
        queue=appeals.team_queue(team),
        overdue=appeals.overdue(),
        statistics=appeals.team_statistics(),
        names=_names(),
        operators={m.id: m.name for m in staff_of(None)},
        now=_now(),
    )
