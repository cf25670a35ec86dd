"""Appeals (обращения): questions, disputes, incidents and complaints, routed, tracked and resolved.

Anyone taking part files one: a participant's staff member (cabinet), an
operator (console) or a customer (their cabinet). See docs/appeals.md.

**Routing** is one table, ``ROUTES``: the category names the operator team
that owns the appeal and its SLA (the deadline is set at filing). A dispute
is also *addressed* to the counterparty participant, who answers it; an
incident about an API is addressed to (and told to) the API's provider.

**Workflow** is one table, ``TRANSITIONS``: (from, to) → the sides that may
move it. The sides are the *handler* (an operator), the *filer* (the customer
who filed, or the filer's participant's staff) and the *addressed*
participant's staff. Reopening needs a reason. A dispute is resolved only
with a recorded resolution (outcome; and, where money is involved, a billing
adjustment written in the same transaction), and it is closed only once
resolved.

**Access**: operators see every appeal; a participant's staff only the
appeals their participant filed or that are addressed to it; a customer only
their own. Anything else is "not found" (``AppealNotFound``), never "not
yours".

**Links** are checked against the filer: routed calls are read from the metering
table, consents through ``registry.appeal_links`` (the idp registers the lookup).

**Deadlines**: ``run_appeal_deadlines`` (a round of the worker) reminds once
at 80% of the SLA (counted back from the current deadline, so a reopened
appeal's from its reopening) and escalates once after the deadline.

**Concurrency**: every status change is claimed by one conditional UPDATE
(``... WHERE id = :id AND status = :seen``): of two requests that read the
same status, one moves it and the other is refused (``AppealChanged``) with
nothing written. A dispute moves money once: a second resolution with an
amount is refused once an adjustment is recorded for it.

Neither texts, comments nor attachments reach the log: audit events carry
ids, categories and statuses only.
"""

from __future__ import annotations

import hashlib
import statistics
import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from registry.accreditation import check_filename
from registry.appeal_links import LinkedCall, LinkedConsent, consent_links, routed_call, routed_call_by_id
from registry.appeal_models import Appeal, AppealAttachment, AppealEvent
from registry.billing import BillingError, parse_adjustment, record_adjustment
from registry.models import ApiSubscription, BillingAdjustment, PublishedApi
from registry.notifications import notify_participant
from registry.participants import get_participant
from registry.staff import StaffMember, require_permission
from registry.tariffs import format_tenge
from senim import clock
from senim.audit import audit
from senim.database import db

# -- categories, teams and the routing table ----------------------------------------------------
QUESTION = "question"
DISPUTE = "dispute"
INCIDENT = "incident"
COMPLAINT = "complaint"
CATEGORIES = (QUESTION, DISPUTE, INCIDENT, COMPLAINT)
#: What a customer may file: disputes are about what one participant bills another.
CUSTOMER_CATEGORIES = (QUESTION, INCIDENT, COMPLAINT)

SUPPORT = "support"
OPERATIONS = "operations"
BILLING = "billing"
COMPLIANCE = "compliance"
TEAMS = (SUPPORT, OPERATIONS, BILLING, COMPLIANCE)

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class Route:
    """Where a category goes: the operator team that owns it and how long it has."""

    team: str
    sla_seconds: int
    #: the counterparty participant is asked to answer (disputes)
    to_counterparty: bool = False
    #: the linked API's provider is addressed and told (incidents)
    to_provider: bool = False


#: The classifier: category → team and SLA (docs/appeals.md has the same table).
ROUTES: dict[str, Route] = {
    QUESTION: Route(SUPPORT, 3 * DAY),
    INCIDENT: Route(OPERATIONS, 4 * HOUR, to_provider=True),
    DISPUTE: Route(BILLING, 10 * DAY, to_counterparty=True),
    COMPLAINT: Route(COMPLIANCE, 5 * DAY),
}
#: A reminder once this share of the SLA has passed (and the appeal is still open).
REMIND_AT = 0.8

# -- statuses and the workflow ---------------------------------------------------------------------
NEW = "new"
IN_PROGRESS = "in_progress"
WAITING = "waiting_for_reply"
RESOLVED = "resolved"
CLOSED = "closed"
STATUSES = (NEW, IN_PROGRESS, WAITING, RESOLVED, CLOSED)
OPEN_STATUSES = (NEW, IN_PROGRESS, WAITING)

HANDLER = "handler"  # an operator (the team owning the appeal)
FILER = "filer"  # the customer who filed it, or the staff of the participant that did
ADDRESSED = "addressed"  # the staff of the participant asked to answer
SYSTEM = "system"

#: (from, to) → who may move it. Resolving goes through ``resolve`` (it records the resolution);
#: reopening (back to in progress from resolved or closed) needs a reason.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (NEW, IN_PROGRESS): frozenset({HANDLER}),
    (NEW, WAITING): frozenset({HANDLER}),
    (IN_PROGRESS, WAITING): frozenset({HANDLER}),
    (WAITING, IN_PROGRESS): frozenset({HANDLER}),
    (NEW, RESOLVED): frozenset({HANDLER}),
    (IN_PROGRESS, RESOLVED): frozenset({HANDLER}),
    (WAITING, RESOLVED): frozenset({HANDLER}),
    (RESOLVED, CLOSED): frozenset({HANDLER, FILER}),
    (RESOLVED, IN_PROGRESS): frozenset({HANDLER, FILER}),
    (CLOSED, IN_PROGRESS): frozenset({HANDLER, FILER}),
}
REOPENINGS = frozenset({(RESOLVED, IN_PROGRESS), (CLOSED, IN_PROGRESS)})

UPHELD = "upheld"
PARTLY_UPHELD = "partly_upheld"
REJECTED = "rejected"
OUTCOMES = (UPHELD, PARTLY_UPHELD, REJECTED)
REFUND = "refund"  # the API user is credited (a negative adjustment)
CHARGE = "charge"  # the API user pays more (a positive adjustment)
DIRECTIONS = (REFUND, CHARGE)

# -- limits ------------------------------------------------------------------------------------------
MAX_SUBJECT = 200
MAX_TEXT = 5000
MAX_COMMENT = 5000
MAX_REASON = 1000
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024
#: Appeals one filer (a staff member, or a customer) may have that are not closed: with the
#: pages' rate limits, what bounds the attachments one account stores.
MAX_OPEN_PER_FILER = 20
#: The file types taken, by their first bytes (never by the declared type or the name).
SIGNATURES = (
    (b"%PDF-", "application/pdf"),  # ISO 32000-1 §7.5.2
    (b"\x89PNG\r\n\x1a\n", "image/png"),  # RFC 2083 §3.1
    (b"\xff\xd8\xff", "image/jpeg"),  # JFIF: SOI marker then another marker
)


class AppealError(ValueError):
    """An appeal cannot be filed, found or moved as asked; ``str(error)`` says why."""


class AppealNotFound(AppealError):
    """No appeal with this id that the actor may see."""


class LinkRefused(AppealError):
    """The consent, API or routed call linked is unknown, or the filer is not a party to it."""


class InvalidAttachment(AppealError):
    """An attachment is not a PDF/PNG/JPEG, too large, empty, or one too many."""


class TransitionNotAllowed(AppealError):
    """The status change is not in the workflow, or not for this side."""


class ResolutionRequired(AppealError):
    """A resolution lacks what it needs (a dispute's outcome, a reason, an amount)."""


class AppealChanged(AppealError):
    """Another request changed the appeal's status after this one read it: nothing is written."""


class TooManyOpenAppeals(AppealError):
    """The filer already has ``MAX_OPEN_PER_FILER`` appeals that are not closed."""


# -- who acts ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actor:
    """Who acts on an appeal: a staff member (a participant's, or an operator), or a customer."""

    staff: StaffMember | None = None
    customer_iin: str | None = None

    @classmethod
    def of_staff(cls, member: StaffMember) -> Actor:
        return cls(staff=member)

    @classmethod
    def of_customer(cls, iin: str) -> Actor:
        return cls(customer_iin=iin)

    @property
    def is_operator(self) -> bool:
        return self.staff is not None and self.staff.is_operator

    @property
    def participant_id(self) -> str | None:
        return self.staff.participant_id if self.staff is not None else None

    @property
    def label(self) -> str:
        """How the history names the actor: never a customer's IIN."""
        return f"staff:{self.staff.id}" if self.staff is not None else "customer"


def side_of(actor: Actor, appeal: Appeal) -> str | None:
    """The side ``actor`` speaks for on ``appeal``; None: the appeal is not theirs to see."""
    if actor.staff is not None:
        if actor.staff.status != "active":
            return None
        if actor.is_operator:
            return HANDLER
        participant = actor.staff.participant_id
        if participant is None:  # the regulator's staff: no appeals
            return None
        if appeal.filer_participant_id == participant:
            return FILER
        if appeal.addressed_to_id == participant:
            return ADDRESSED
        return None
    if actor.customer_iin and appeal.filer_customer_iin == actor.customer_iin:
        return FILER
    return None


#: The permission a staff member's role needs to speak for each side (a customer needs none).
SIDE_PERMISSIONS = {HANDLER: "handle_appeals", FILER: "file_appeals", ADDRESSED: "answer_appeals"}


def may_speak(actor: Actor, side: str) -> bool:
    """Whether the actor's role lets them comment and act for ``side`` (a viewer reads only)."""
    return actor.staff is None or actor.staff.may(SIDE_PERMISSIONS[side])


def _may_speak(actor: Actor, side: str) -> None:
    if actor.staff is not None:
        require_permission(actor.staff, SIDE_PERMISSIONS[side])


# -- the checks of filing -----------------------------------------------------------------------------
def check_category(category: str, actor: Actor) -> str:
    if category not in CATEGORIES:
        raise AppealError(f"no category {category!r}: categories are {', '.join(CATEGORIES)}")
    if actor.staff is None and category not in CUSTOMER_CATEGORIES:
        raise AppealError(
            "a customer files a question, an incident or a complaint; disputes are participants'"
        )
    return category


def _tidy(text: object, limit: int, what: str, *, one_line: bool = False) -> str:
    value = text if isinstance(text, str) else ""
    value = " ".join(value.split()) if one_line else value.strip().replace("\r\n", "\n")
    if not value or len(value) > limit:
        raise AppealError(f"{what} has 1 to {limit} characters")
    return value


def check_filer(actor: Actor) -> Actor:
    if actor.staff is not None:
        require_permission(actor.staff, "file_appeals")
        return actor
    if not actor.customer_iin:
        raise AppealError("who files must be said")
    return actor


def open_appeals_of_filer(actor: Actor) -> int:
    """How many appeals the filing account (the staff member, or the customer) has not closed."""
    mine = (
        Appeal.filer_staff_id == actor.staff.id
        if actor.staff is not None
        else Appeal.filer_customer_iin == actor.customer_iin
    )
    query = select(func.count()).select_from(Appeal).where(mine, Appeal.status != CLOSED)
    return db.session.scalar(query) or 0


def check_open_appeals(actor: Actor) -> None:
    """At most ``MAX_OPEN_PER_FILER`` appeals not closed per filer (each may carry 10 MiB)."""
    if open_appeals_of_filer(actor) >= MAX_OPEN_PER_FILER:
        raise TooManyOpenAppeals(
            f"you have {MAX_OPEN_PER_FILER} appeals that are not closed: close the settled ones"
            " before filing another"
        )


def _is_party_to_consent(actor: Actor, consent: LinkedConsent) -> bool:
    if actor.is_operator:
        return True
    if actor.staff is None:
        return consent.customer_iin is not None and consent.customer_iin == actor.customer_iin
    participant = actor.participant_id
    return participant is not None and (consent.api_user_id == participant or participant in consent.bank_ids)


def _is_party_to_api(actor: Actor, api: PublishedApi) -> bool:
    if actor.is_operator:
        return True
    participant = actor.participant_id
    if participant is None:
        return False
    if api.provider_id == participant:
        return True
    subscribed = select(ApiSubscription.id).where(
        ApiSubscription.api_id == api.id, ApiSubscription.participant_id == participant
    )
    return db.session.scalar(subscribed.limit(1)) is not None


def _routed_call(actor: Actor, interaction_id: str) -> LinkedCall:
    if actor.staff is None:
        raise LinkRefused("a customer links one of their consents, not a routed call")
    if not actor.is_operator and actor.participant_id is None:
        raise LinkRefused(f"no routed call with interaction id {interaction_id} that you are a party to")
    call = routed_call(interaction_id, None if actor.is_operator else actor.participant_id)
    if call is None:
        raise LinkRefused(f"no routed call with interaction id {interaction_id} that you are a party to")
    return call


@dataclass(frozen=True)
class Links:
    """What an appeal links to, each checked against the filer."""

    consent: LinkedConsent | None = None
    api: PublishedApi | None = None
    call: LinkedCall | None = None


def check_links(
    actor: Actor, *, consent_id: str | None, api_id: str | None, interaction_id: str | None
) -> Links:
    """Every link names something the filer is a party to; otherwise ``LinkRefused`` ("no … of yours")."""
    consent = api = call = None
    if consent_id:
        consent = consent_links().consent(consent_id) if len(consent_id) <= 36 else None
        if consent is None or not _is_party_to_consent(actor, consent):
            raise LinkRefused(f"no consent {consent_id[:36]} that you are a party to")
    if api_id:
        if actor.staff is None:
            raise LinkRefused("a customer links one of their consents, not an API")
        api = db.session.get(PublishedApi, api_id) if len(api_id) <= 36 else None
        if api is None or not _is_party_to_api(actor, api):
            raise LinkRefused(f"no API {api_id[:36]} that you provide or are subscribed to")
    if interaction_id:
        if len(interaction_id) > 64:
            raise LinkRefused("an interaction id has at most 64 characters")
        call = _routed_call(actor, interaction_id)
    return Links(consent=consent, api=api, call=call)


def _counterparty(actor: Actor, call: LinkedCall) -> str | None:
    """The other side of a routed call to the filer's participant."""
    participant = actor.participant_id
    if participant == call.api_user_id:
        return call.provider_id
    if participant == call.provider_id:
        return call.api_user_id
    return None


def check_parties(
    actor: Actor, category: str, links: Links, concerns_id: str | None
) -> tuple[str | None, str | None]:
    """Whom the appeal concerns and whom it is addressed to (who answers it), by the routing table."""
    route = ROUTES[category]
    concerns = addressed = None
    if route.to_counterparty:
        if actor.staff is None or actor.is_operator:
            raise AppealError("a dispute is filed by one of its parties: the API user or the API provider")
        if links.call is None:
            raise AppealError("a dispute names the routed call it is about (its interaction id)")
        concerns = addressed = _counterparty(actor, links.call)
        if addressed is None:
            raise AppealError("this routed call has no counterparty to dispute it with")
    if route.to_provider:
        provider = links.call.provider_id if links.call else (links.api.provider_id if links.api else None)
        if provider is not None and provider != actor.participant_id:
            concerns = addressed = provider
    if category == COMPLAINT:
        concerns = (
            concerns_id
            or (links.consent.api_user_id if links.consent is not None and actor.staff is None else None)
            or (_counterparty(actor, links.call) if links.call is not None else None)
        )
        if not concerns or get_participant(concerns) is None:
            raise AppealError("a complaint names the participant it is about")
        if concerns == actor.participant_id:
            raise AppealError("a complaint is about another participant")
    return concerns, addressed


def _attachment_type(content: bytes) -> str | None:
    for signature, content_type in SIGNATURES:
        if content.startswith(signature):
            return content_type
    return None


@dataclass(frozen=True)
class Attachment:
    """A file as received: its name and bytes (its type is read from the bytes)."""

    filename: str
    content: bytes


def check_attachments(attachments: list[Attachment]) -> list[tuple[str, str, bytes]]:
    """(name, type, bytes) of each file: PDF, PNG or JPEG by content, within the limits."""
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidAttachment(f"at most {MAX_ATTACHMENTS} attachments, not {len(attachments)}")
    checked = []
    for attachment in attachments:
        try:
            name = check_filename(attachment.filename)
        except ValueError as refusal:
            raise InvalidAttachment(str(refusal)) from None
        content = bytes(attachment.content or b"")
        if not content:
            raise InvalidAttachment(f"{name}: the file is empty")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise InvalidAttachment(
                f"{name}: an attachment has at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB"
            )
        content_type = _attachment_type(content)
        if content_type is None:
            raise InvalidAttachment(f"{name}: attachments are PDF, PNG or JPEG files")
        checked.append((name, content_type, content))
    return checked


# -- filing --------------------------------------------------------------------------------------------
def _record(
    appeal: Appeal,
    actor: str,
    side: str,
    action: str,
    *,
    to_status: str | None = None,
    from_status: str | None = None,
    text: str | None = None,
) -> AppealEvent:
    event = AppealEvent(
        appeal_id=appeal.id,
        at=clock.now_int(),
        actor=actor,
        side=side,
        action=action,
        from_status=from_status,
        to_status=to_status,
        text=text,
    )
    db.session.add(event)
    return event


def _next_seq() -> int:
    return (db.session.scalar(select(func.max(Appeal.seq))) or 0) + 1


def file_appeal(
    actor: Actor,
    *,
    category: str,
    subject: str,
    text: str,
    consent_id: str | None = None,
    api_id: str | None = None,
    interaction_id: str | None = None,
    concerns_id: str | None = None,
    attachments: list[Attachment] | None = None,
) -> Appeal:
    """A new appeal, routed by its category, with its SLA deadline; committed."""
    check_filer(actor)
    check_open_appeals(actor)
    check_category(category, actor)
    subject = _tidy(subject, MAX_SUBJECT, "a subject", one_line=True)
    text = _tidy(text, MAX_TEXT, "the text")
    links = check_links(
        actor,
        consent_id=(consent_id or "").strip() or None,
        api_id=(api_id or "").strip() or None,
        interaction_id=(interaction_id or "").strip() or None,
    )
    concerns, addressed = check_parties(actor, category, links, (concerns_id or "").strip() or None)
    files = check_attachments(list(attachments or []))
    route = ROUTES[category]
    now = clock.now_int()
    appeal = Appeal(
        id=str(uuid.uuid4()),
        seq=_next_seq(),
        category=category,
        subject=subject,
        text=text,
        status=NEW,
        team=route.team,
        filer_staff_id=actor.staff.id if actor.staff else None,
        filer_participant_id=actor.participant_id,
        filer_customer_iin=actor.customer_iin if actor.staff is None else None,
        concerns_id=concerns,
        addressed_to_id=addressed,
        consent_id=links.consent.id if links.consent else None,
        api_id=links.api.id if links.api else (links.call.api_id if links.call else None),
        interaction_id=links.call.interaction_id if links.call else None,
        routed_call_id=links.call.id if links.call else None,
        created_at=now,
        deadline_at=now + route.sla_seconds,
        status_changed_at=now,
    )
    db.session.add(appeal)
    for position, (name, content_type, content) in enumerate(files):
        db.session.add(
            AppealAttachment(
                id=str(uuid.uuid4()),
                appeal_id=appeal.id,
                position=position,
                filename=name,
                content_type=content_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
                uploaded_at=now,
            )
        )
    _record(appeal, actor.label, FILER, "filed", to_status=NEW)
    if addressed is not None:
        notify_participant(
            addressed,
            f"appeal.{category}",
            f"Appeal {appeal.number}: a {category} addressed to you",
            f"A {category} ({appeal.number}) is addressed to your organisation; answer it in the cabinet's"
            f" Appeals tab. The operator's {route.team} team owns it.",
        )
    try:
        db.session.commit()
    except IntegrityError:  # another appeal took the number meanwhile: the filer tries again
        db.session.rollback()
        raise AppealError("the appeal could not be numbered: send it again") from None
    audit(
        "appeal.filed",
        appeal_id=appeal.id,
        category=category,
        team=route.team,
        participant_id=actor.participant_id,
        addressed_to=addressed,
        by=actor.label,
    )
    return appeal


# -- finding ----------------------------------------------------------------------------------------
def get_appeal(actor: Actor, appeal_id: str) -> tuple[Appeal, str]:
    """The appeal and the actor's side on it; ``AppealNotFound`` if it is not theirs to see."""
    appeal = (
        db.session.get(Appeal, appeal_id, populate_existing=True)
        if isinstance(appeal_id, str) and len(appeal_id) <= 36
        else None
    )
    side = side_of(actor, appeal) if appeal is not None else None
    if side is None:
        raise AppealNotFound(f"no appeal {str(appeal_id)[:36]}")
    return appeal, side


def appeals_filed_by(participant_id: str) -> list[Appeal]:
    query = select(Appeal).where(Appeal.filer_participant_id == participant_id)
    return list(db.session.scalars(query.order_by(Appeal.seq.desc())))


def appeals_addressed_to(participant_id: str) -> list[Appeal]:
    query = select(Appeal).where(Appeal.addressed_to_id == participant_id)
    return list(db.session.scalars(query.order_by(Appeal.seq.desc())))


def appeals_of_customer(iin: str) -> list[Appeal]:
    query = select(Appeal).where(Appeal.filer_customer_iin == iin)
    return list(db.session.scalars(query.order_by(Appeal.seq.desc())))


def team_queue(team: str) -> list[Appeal]:
    """A team's open appeals, the nearest deadline first."""
    query = select(Appeal).where(Appeal.team == team, Appeal.status.in_(OPEN_STATUSES))
    return list(db.session.scalars(query.order_by(Appeal.deadline_at, Appeal.seq)))


def overdue() -> list[Appeal]:
    """Every open appeal past its deadline, the most overdue first."""
    query = select(Appeal).where(Appeal.status.in_(OPEN_STATUSES), Appeal.deadline_at < clock.now_int())
    return list(db.session.scalars(query.order_by(Appeal.deadline_at, Appeal.seq)))


def history(appeal_id: str) -> list[AppealEvent]:
    query = select(AppealEvent).where(AppealEvent.appeal_id == appeal_id)
    return list(db.session.scalars(query.order_by(AppealEvent.at, AppealEvent.id)))


def attachments_of(appeal_id: str) -> list[AppealAttachment]:
    query = select(AppealAttachment).where(AppealAttachment.appeal_id == appeal_id)
    return list(db.session.scalars(query.order_by(AppealAttachment.position)))


@dataclass(frozen=True)
class TeamStatistics:
    team: str
    open: int
    overdue: int
    resolved: int
    #: the share resolved by the deadline, in percent (None: nothing resolved yet)
    within_sla_percent: float | None
    #: the median seconds from filing to resolution (None: nothing resolved yet)
    median_seconds_to_resolve: float | None


def team_statistics() -> list[TeamStatistics]:
    """Per team: open, overdue, resolved, resolved within the SLA (%), median time to resolve."""
    now = clock.now_int()
    rows = db.session.execute(
        select(Appeal.team, Appeal.status, Appeal.created_at, Appeal.deadline_at, Appeal.resolved_at)
    ).all()
    result = []
    for team in TEAMS:
        mine = [row for row in rows if row.team == team]
        open_ = [row for row in mine if row.status in OPEN_STATUSES]
        done = [row for row in mine if row.status in (RESOLVED, CLOSED) and row.resolved_at is not None]
        within = sum(1 for row in done if row.resolved_at <= row.deadline_at)
        result.append(
            TeamStatistics(
                team=team,
                open=len(open_),
                overdue=sum(1 for row in open_ if row.deadline_at < now),
                resolved=len(done),
                within_sla_percent=round(100 * within / len(done), 1) if done else None,
                median_seconds_to_resolve=(
                    statistics.median(row.resolved_at - row.created_at for row in done) if done else None
                ),
            )
        )
    return result


# -- acting on an appeal -----------------------------------------------------------------------------
def comment(actor: Actor, appeal_id: str, text: str) -> AppealEvent:
    """A comment from any side; one from the filer or the addressed party while the appeal waits
    for a reply puts it back in progress."""
    appeal, side = get_appeal(actor, appeal_id)
    _may_speak(actor, side)
    if appeal.status == CLOSED:
        raise TransitionNotAllowed("the appeal is closed: reopen it to comment")
    body = _tidy(text, MAX_COMMENT, "a comment")
    event = _record(appeal, actor.label, side, "commented", text=body)
    if appeal.status == WAITING and side in (FILER, ADDRESSED):
        _move(appeal, IN_PROGRESS, actor.label, side, "replied")
    db.session.commit()
    audit("appeal.commented", appeal_id=appeal.id, side=side, by=actor.label)
    return event


def claim_status(appeal: Appeal, to_status: str, now: int) -> str:
    """Move ``appeal`` from the status it was read in to ``to_status`` with one conditional UPDATE
    (``WHERE id = :id AND status = :seen``); the status it was read in.

    If another request changed the status meanwhile, no row matches: the session is rolled back
    (nothing this request wrote is kept) and ``AppealChanged`` raised. On PostgreSQL the UPDATE
    waits for a concurrent one's transaction and then re-reads the row; on SQLite writers take
    turns. Either way one of two requests that read the same status moves it."""
    seen = appeal.status
    claimed = db.session.execute(
        update(Appeal)
        .where(Appeal.id == appeal.id, Appeal.status == seen)
        .values(status=to_status, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise AppealChanged("the appeal was changed meanwhile: reload it")
    # the row holds them already: the object agrees without writing them again
    set_committed_value(appeal, "status", to_status)
    set_committed_value(appeal, "status_changed_at", now)
    return seen


def _move(
    appeal: Appeal, to_status: str, actor: str, side: str, action: str, text: str | None = None
) -> None:
    now = clock.now_int()
    from_status = claim_status(appeal, to_status, now)
    if to_status == CLOSED:
        appeal.closed_at = now
    _record(appeal, actor, side, action, from_status=from_status, to_status=to_status, text=text)


def check_transition(appeal: Appeal, to_status: str, side: str) -> None:
    allowed = TRANSITIONS.get((appeal.status, to_status))
    if allowed is None:
        raise TransitionNotAllowed(f"an appeal {appeal.status} cannot become {to_status}")
    if side not in allowed:
        raise TransitionNotAllowed(f"the {side} cannot move an appeal from {appeal.status} to {to_status}")


def change_status(actor: Actor, appeal_id: str, to_status: str, reason: str = "") -> Appeal:
    """A status change of the workflow table (resolving is ``resolve``); reopening needs a reason."""
    appeal, side = get_appeal(actor, appeal_id)
    _may_speak(actor, side)
    if to_status == RESOLVED:
        raise ResolutionRequired("an appeal is resolved with its resolution (outcome and summary)")
    check_transition(appeal, to_status, side)
    reopening = (appeal.status, to_status) in REOPENINGS
    text = (
        _tidy(reason, MAX_REASON, "a reason to reopen")
        if reopening
        else (reason or "").strip()[:MAX_REASON] or None
    )
    _move(appeal, to_status, actor.label, side, "reopened" if reopening else "status_changed", text)
    if reopening:
        # the SLA runs again from the reopening; a new reminder and escalation may follow
        route = ROUTES[appeal.category]
        appeal.deadline_at = clock.now_int() + route.sla_seconds
        appeal.reminded_at = appeal.escalated_at = appeal.closed_at = None
    db.session.commit()
    audit("appeal.status_changed", appeal_id=appeal.id, to_status=to_status, side=side, by=actor.label)
    return appeal


def assign(actor: Actor, appeal_id: str, assignee_id: str) -> Appeal:
    """An operator takes the appeal (or gives it to another operator); a new one goes in progress."""
    appeal, side = get_appeal(actor, appeal_id)
    if side != HANDLER:
        raise TransitionNotAllowed("only an operator assigns an appeal")
    _may_speak(actor, side)
    assignee = db.session.get(StaffMember, assignee_id) if isinstance(assignee_id, str) else None
    if assignee is None or not assignee.is_operator or assignee.status != "active":
        raise AppealError("an appeal is assigned to an active operator")
    appeal.assignee_id = assignee.id
    _record(appeal, actor.label, side, "assigned", text=assignee.name)
    if appeal.status == NEW:  # if it was moved meanwhile, the claim rolls all of this back
        _move(appeal, IN_PROGRESS, actor.label, side, "status_changed")
    db.session.commit()
    audit("appeal.assigned", appeal_id=appeal.id, assignee_id=assignee.id, by=actor.label)
    return appeal


@dataclass(frozen=True)
class Resolution:
    """What an operator decided: the outcome (disputes), the summary the parties read, and
    the money, if any (an amount in tenge, its direction and the adjustment's reason)."""

    summary: str
    outcome: str | None = None
    amount_tenge: str = ""
    direction: str = REFUND
    adjustment_reason: str = ""


def check_resolution(appeal: Appeal, resolution: Resolution) -> tuple[str, str | None, int | None]:
    """The summary, the outcome and the signed adjustment in tiyn (None: no money moves)."""
    summary = _tidy(resolution.summary, MAX_TEXT, "a resolution")
    outcome = resolution.outcome or None
    if outcome is not None and outcome not in OUTCOMES:
        raise ResolutionRequired(f"no outcome {outcome!r}: outcomes are {', '.join(OUTCOMES)}")
    if appeal.category == DISPUTE and outcome is None:
        raise ResolutionRequired("a dispute is resolved with its outcome: upheld, partly upheld or rejected")
    amount = (resolution.amount_tenge or "").strip()
    if not amount:
        return summary, outcome, None
    if appeal.category != DISPUTE:
        raise ResolutionRequired("only a dispute's resolution moves money")
    if outcome == REJECTED:
        raise ResolutionRequired("a rejected dispute moves no money")
    if resolution.direction not in DIRECTIONS:
        raise ResolutionRequired(f"an adjustment is a {' or a '.join(DIRECTIONS)}")
    try:
        tiyn = parse_adjustment(amount)
    except BillingError as refusal:
        raise ResolutionRequired(str(refusal)) from None
    if tiyn < 0:
        raise ResolutionRequired("an adjustment is more than zero tenge: its direction says who pays")
    return summary, outcome, -tiyn if resolution.direction == REFUND else tiyn


def recorded_adjustment(appeal_id: str) -> BillingAdjustment | None:
    """The billing adjustment already recorded for this appeal (a dispute moves money once)."""
    query = select(BillingAdjustment).where(BillingAdjustment.appeal_id == appeal_id)
    return db.session.scalars(query.order_by(BillingAdjustment.created_at, BillingAdjustment.id)).first()


def resolve(actor: Actor, appeal_id: str, resolution: Resolution) -> Appeal:
    """The handler resolves the appeal: the resolution and its billing adjustment (if money moves)
    are written in one transaction; a refused adjustment leaves the appeal as it was.

    The status is claimed first (``claim_status``): of two resolutions sent at once, one is
    stored. A dispute moves money once: resolved again after a reopening, it keeps the adjustment
    already recorded, and a new amount is refused (a further correction is made in Billing)."""
    appeal, side = get_appeal(actor, appeal_id)
    _may_speak(actor, side)
    check_transition(appeal, RESOLVED, side)
    summary, outcome, tiyn = check_resolution(appeal, resolution)
    try:
        _move(appeal, RESOLVED, actor.label, side, "resolved", summary)
        # after the claim: a concurrent resolution of this appeal is refused, or already committed
        earlier = recorded_adjustment(appeal.id)
        if earlier is not None and tiyn is not None:
            raise ResolutionRequired(
                f"this dispute's adjustment of {format_tenge(earlier.amount_tiyn)} KZT is already"
                " recorded; a further correction is an adjustment in Billing, with its reason"
            )
        appeal.outcome = outcome
        appeal.resolution = summary
        appeal.adjustment_id = earlier.id if earlier is not None else None
        appeal.resolved_at = clock.now_int()
        adjustment = None
        if tiyn is not None:
            call = routed_call_by_id(appeal.routed_call_id) if appeal.routed_call_id else None
            if call is None or call.provider_id is None:
                raise ResolutionRequired("the dispute's routed call names no API user and provider")
            # in the resolution's transaction: both are stored, or neither
            adjustment = record_adjustment(
                api_user_id=call.api_user_id,
                provider_id=call.provider_id,
                amount_tiyn=tiyn,
                reason=_tidy(
                    resolution.adjustment_reason or summary, 500, "an adjustment's reason", one_line=True
                ),
                actor=actor.label,
                appeal_id=appeal.id,
            )
            appeal.adjustment_id = adjustment.id
        for participant in {appeal.filer_participant_id, appeal.addressed_to_id} - {None}:
            notify_participant(
                participant,
                "appeal.resolved",
                f"Appeal {appeal.number} is resolved",
                f"The {appeal.category} {appeal.number} is resolved"
                + (f" ({outcome.replace('_', ' ')})" if outcome else "")
                + ("; a billing adjustment lands on the next invoice." if adjustment else "."),
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    audit(
        "appeal.resolved",
        appeal_id=appeal.id,
        outcome=outcome,
        adjustment_id=appeal.adjustment_id,
        by=actor.label,
    )
    return appeal


# -- deadlines: a round of the worker -----------------------------------------------------------------
@dataclass(frozen=True)
class DeadlineRound:
    reminded: list[str]
    escalated: list[str]


def _claim(appeal_id: str, column: str, now: int) -> bool:
    """Set ``column`` (reminded_at / escalated_at) if still unset: one worker, once."""
    target = getattr(Appeal, column)
    claimed = db.session.execute(
        update(Appeal)
        .where(Appeal.id == appeal_id, target.is_(None), Appeal.status.in_(OPEN_STATUSES))
        .values({column: now})
    )
    return claimed.rowcount == 1


def run_appeal_deadlines() -> DeadlineRound:
    """Remind once at ``REMIND_AT`` of the SLA, escalate once past the deadline (open appeals)."""
    now = clock.now_int()
    reminded, escalated = [], []
    candidates = db.session.scalars(
        select(Appeal)
        .where(
            Appeal.status.in_(OPEN_STATUSES),
            or_(Appeal.reminded_at.is_(None), Appeal.escalated_at.is_(None)),
        )
        .order_by(Appeal.deadline_at)
        .execution_options(populate_existing=True)
    ).all()
    for appeal in candidates:
        # 80% of the SLA counted back from the current deadline: a reopened appeal's SLA runs
        # from its reopening, not from its filing
        sla = ROUTES[appeal.category].sla_seconds
        remind_from = appeal.deadline_at - sla + int(REMIND_AT * sla)
        if appeal.reminded_at is None and now >= remind_from and _claim(appeal.id, "reminded_at", now):
            _record(appeal, SYSTEM, SYSTEM, "reminded", text=f"deadline {appeal.deadline_at}")
            if appeal.addressed_to_id is not None:
                notify_participant(
                    appeal.addressed_to_id,
                    "appeal.reminder",
                    f"Appeal {appeal.number}: the deadline is near",
                    f"The {appeal.category} {appeal.number} addressed to you is due soon;"
                    " answer it in the cabinet's Appeals tab.",
                )
            db.session.commit()
            audit("appeal.reminded", appeal_id=appeal.id, team=appeal.team)
            reminded.append(appeal.id)
        if (
            appeal.escalated_at is None
            and now > appeal.deadline_at
            and _claim(appeal.id, "escalated_at", now)
        ):
            _record(appeal, SYSTEM, SYSTEM, "escalated", text=f"{appeal.team} team lead")
            for participant in {appeal.filer_participant_id, appeal.addressed_to_id} - {None}:
                notify_participant(
                    participant,
                    "appeal.escalated",
                    f"Appeal {appeal.number} is overdue",
                    f"The {appeal.category} {appeal.number} passed its deadline and is escalated to the"
                    f" lead of the operator's {appeal.team} team.",
                )
            db.session.commit()
            audit("appeal.escalated", appeal_id=appeal.id, team=appeal.team)
            escalated.append(appeal.id)
    return DeadlineRound(reminded=reminded, escalated=escalated)
