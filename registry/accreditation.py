"""Accreditation: a participant applies to be an API provider and/or API user; operators decide.

States of an application (one open application per participant at a time)::

    submitted --start_review--> in_review --approve--> approved
                                          \\-reject---> rejected (reason required)

A rejected participant may apply again (a new application). Approval enters
the participant in the public register: the roles asked are added, its status
becomes ``active`` (a blocked participant stays blocked), and an accreditation
certificate is issued (``registry.accreditation_certificate``).

Who may act is decided by the caller (the staff layer); every step records
the ``actor_id`` it is given in the application's history and in the audit
log. Neither documents nor reasons, which are free text, reach the log.

Checks of ``apply``, in order (one function each, each a named refusal):

| # | check                          | refusal                 |
|---|--------------------------------|-------------------------|
| 1 | check_actor                    | AccreditationError      |
| 2 | check_participant_may_apply    | UnknownParticipant, ParticipantBlocked |
| 3 | check_roles_asked              | InvalidRolesAsked       |
| 4 | check_no_open_application      | ApplicationAlreadyOpen  |
| 5 | check_documents                | InvalidDocument         |
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from registry.accreditation_certificate import issue_certificate
from registry.models import (
    ACTIVE,
    APPROVED,
    BLOCKED,
    IN_REVIEW,
    OPEN_APPLICATION_STATES,
    REJECTED,
    SUBMITTED,
    AccreditationApplication,
    AccreditationCertificate,
    AccreditationDocument,
    AccreditationEvent,
    Participant,
)
from registry.participants import ROLES, ParticipantBlocked, require_participant
from senim import clock
from senim.audit import audit
from senim.database import db

PDF_SIGNATURE = b"%PDF-"  # ISO 32000-1 §7.5.2: a PDF file begins with its header "%PDF-1.n"
PDF_CONTENT_TYPE = "application/pdf"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
MAX_DOCUMENTS = 10
MAX_FILENAME = 200
MAX_REASON = 1000
MAX_ACTOR_ID = 64

# The named steps: what each does to the status (the only transitions there are).
START_REVIEW = "review_started"
APPROVE = "approved"
REJECT = "rejected"
TRANSITIONS = {
    START_REVIEW: (SUBMITTED, IN_REVIEW),
    APPROVE: (IN_REVIEW, APPROVED),
    REJECT: (IN_REVIEW, REJECTED),
}


class AccreditationError(ValueError):
    """An application cannot be made or moved as asked; ``str(error)`` says why."""


class InvalidDocument(AccreditationError):
    """A document is not a PDF, too large, or one too many."""


class InvalidRolesAsked(AccreditationError):
    """The roles asked are unknown, none, or already held."""


class ApplicationAlreadyOpen(AccreditationError):
    """The participant already has an application submitted or in review."""


class ApplicationNotFound(AccreditationError):
    """No application has this id."""


class TransitionNotAllowed(AccreditationError):
    """The application is not in the state this step starts from."""


class ReasonRequired(AccreditationError):
    """A rejection must say why (the participant reads it)."""


@dataclass(frozen=True)
class Document:
    """A document as received: its name, bytes and declared content type."""

    filename: str
    content: bytes
    content_type: str = PDF_CONTENT_TYPE


# -- the checks -------------------------------------------------------------------------------------
def check_actor(actor_id: str) -> str:
    actor = actor_id.strip() if isinstance(actor_id, str) else ""
    if not 1 <= len(actor) <= MAX_ACTOR_ID:
        raise AccreditationError(f"who acts must be said: an actor id of 1 to {MAX_ACTOR_ID} characters")
    return actor


def check_participant_may_apply(participant_id: str) -> Participant:
    participant = require_participant(participant_id)
    if participant.status == BLOCKED:
        raise ParticipantBlocked(f"participant {participant.id} is blocked", participant.id)
    return participant


def check_roles_asked(roles: list[str], participant: Participant) -> list[str]:
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        raise InvalidRolesAsked(f"roles must be a list of {' and/or '.join(ROLES)}")
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidRolesAsked(f"unknown role {', '.join(unknown)}: roles are {' and/or '.join(ROLES)}")
    if not roles:
        raise InvalidRolesAsked(f"ask for at least one role: {' and/or '.join(ROLES)}")
    held = [r for r in roles if r in (participant.roles or [])]
    if held:
        raise InvalidRolesAsked(f"participant {participant.id} already holds {', '.join(held)}")
    return roles


def check_no_open_application(participant: Participant) -> None:
    query = select(AccreditationApplication.id).where(
        AccreditationApplication.participant_id == participant.id,
        AccreditationApplication.status.in_(OPEN_APPLICATION_STATES),
    )
    if db.session.scalar(query) is not None:
        raise ApplicationAlreadyOpen(f"participant {participant.id} already has an application under way")


_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def check_filename(filename: str) -> str:
    # Only the last path component, without control characters: it is shown to operators.
    name = filename if isinstance(filename, str) else ""
    name = re.split(r"[/\\]", name)[-1].strip()
    name = _UNSAFE_FILENAME.sub("_", name)
    if not 1 <= len(name) <= MAX_FILENAME:
        raise InvalidDocument(f"a document needs a file name of 1 to {MAX_FILENAME} characters")
    return name


def check_document(document: Document) -> Document:
    filename = check_filename(document.filename)
    content = document.content
    if not isinstance(content, (bytes, bytearray)) or not content:
        raise InvalidDocument(f"{filename}: the document is empty")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(
            f"{filename}: a document has at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB,"
            f" this one {len(content) / (1024 * 1024):.1f} MiB"
        )
    declared = (document.content_type or "").split(";")[0].strip().lower()
    if declared != PDF_CONTENT_TYPE:
        raise InvalidDocument(
            f"{filename}: documents are PDF only (application/pdf), not {declared or 'untyped'}"
        )
    if not bytes(content[:5]) == PDF_SIGNATURE:
        raise InvalidDocument(f"{filename}: not a PDF file (it does not begin with %PDF-)")
    return Document(filename=filename, content=bytes(content), content_type=PDF_CONTENT_TYPE)


def check_documents(documents: list[Document]) -> list[Document]:
    if not isinstance(documents, (list, tuple)) or not documents:
        raise InvalidDocument("an application needs at least one document (PDF)")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidDocument(f"at most {MAX_DOCUMENTS} documents, not {len(documents)}")
    if not all(isinstance(d, Document) for d in documents):
        raise InvalidDocument("documents must be given as registry.accreditation.Document")
    return [check_document(d) for d in documents]


# -- applying ---------------------------------------------------------------------------------------
def _record(
    application: AccreditationApplication,
    actor_id: str,
    action: str,
    before: str | None,
    reason: str | None = None,
) -> None:
    db.session.add(
        AccreditationEvent(
            application_id=application.id,
            at=clock.now_int(),
            actor_id=actor_id,
            action=action,
            from_status=before,
            to_status=application.status,
            reason=reason,
        )
    )


def apply(
    participant_id: str, roles: list[str], documents: list[Document], actor_id: str
) -> AccreditationApplication:
    """A participant applies for ``roles`` with its ``documents`` (PDF); status ``submitted``.

    ``actor_id`` is the participant's staff member acting. All or nothing.
    """
    actor = check_actor(actor_id)
    participant = check_participant_may_apply(participant_id)
    roles = check_roles_asked(roles, participant)
    check_no_open_application(participant)
    documents = check_documents(documents)
    now = clock.now_int()
    application = AccreditationApplication(
        id=str(uuid.uuid4()),
        participant_id=participant.id,
        open_participant_id=participant.id,
        roles=roles,
        status=SUBMITTED,
        submitted_at=now,
    )
    db.session.add(application)
    for position, document in enumerate(documents):
        db.session.add(
            AccreditationDocument(
                id=str(uuid.uuid4()),
                application_id=application.id,
                position=position,
                filename=document.filename,
                content_type=document.content_type,
                size=len(document.content),
                sha256=hashlib.sha256(document.content).hexdigest(),
                content=document.content,
                uploaded_at=now,
            )
        )
    _record(application, actor, "applied", None)
    try:
        db.session.commit()
    except IntegrityError:  # another application opened in parallel (the unique open_participant_id)
        db.session.rollback()
        raise ApplicationAlreadyOpen(
            f"participant {participant.id} already has an application under way"
        ) from None
    audit(
        "accreditation.applied",
        application_id=application.id,
        participant_id=participant.id,
        roles=roles,
        documents=len(documents),
        actor_id=actor,
    )
    return application


# -- reading ------------------------------------------------------------------------------------------
def get_application(application_id: str) -> AccreditationApplication:
    application = (
        db.session.get(AccreditationApplication, application_id, populate_existing=True)
        if isinstance(application_id, str) and len(application_id) <= 36
        else None
    )
    if application is None:
        raise ApplicationNotFound(f"no application {application_id}")
    return application


def list_queue() -> list[AccreditationApplication]:
    """The operators' queue: open applications (submitted, in review), oldest first."""
    query = (
        select(AccreditationApplication)
        .where(AccreditationApplication.status.in_(OPEN_APPLICATION_STATES))
        .order_by(AccreditationApplication.submitted_at, AccreditationApplication.id)
    )
    return list(db.session.scalars(query))


def applications_of(participant_id: str) -> list[AccreditationApplication]:
    """A participant's applications, newest first (its cabinet)."""
    query = (
        select(AccreditationApplication)
        .where(AccreditationApplication.participant_id == participant_id)
        .order_by(AccreditationApplication.submitted_at.desc(), AccreditationApplication.id)
    )
    return list(db.session.scalars(query))


def history(application_id: str) -> list[AccreditationEvent]:
    """Every step of the application, in order."""
    application = get_application(application_id)
    query = (
        select(AccreditationEvent)
        .where(AccreditationEvent.application_id == application.id)
        .order_by(AccreditationEvent.at, AccreditationEvent.id)
    )
    return list(db.session.scalars(query))


def documents(application_id: str) -> list[AccreditationDocument]:
    """The application's documents, with their bytes (``.content``), in the order sent."""
    application = get_application(application_id)
    query = (
        select(AccreditationDocument)
        .where(AccreditationDocument.application_id == application.id)
        .order_by(AccreditationDocument.position)
    )
    return list(db.session.scalars(query))


# -- the operators' steps --------------------------------------------------------------------------
def _move(application_id: str, step: str, actor_id: str, **values: object) -> AccreditationApplication:
    """Take ``step`` if the application is in its starting state, atomically (a conditional UPDATE:
    two operators deciding at once cannot both succeed)."""
    actor = check_actor(actor_id)
    application = get_application(application_id)
    before, after = TRANSITIONS[step]
    if after in (APPROVED, REJECTED):
        values = {**values, "open_participant_id": None, "decided_at": clock.now_int()}
    result = db.session.execute(
        update(AccreditationApplication)
        .where(AccreditationApplication.id == application.id, AccreditationApplication.status == before)
        .values(status=after, reviewer_id=actor, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        current = get_application(application_id).status
        raise TransitionNotAllowed(
            f"application {application_id} is {current}: {step.replace('_', ' ')} needs it {before}"
        )
    db.session.refresh(application)
    _record(application, actor, step, before, values.get("rejection_reason"))  # type: ignore[arg-type]
    return application


def start_review(application_id: str, actor_id: str) -> AccreditationApplication:
    """An operator takes the application: ``submitted`` → ``in_review``."""
    application = _move(application_id, START_REVIEW, actor_id)
    db.session.commit()
    audit("accreditation.review_started", application_id=application.id, actor_id=application.reviewer_id)
    return application


def approve(application_id: str, actor_id: str) -> tuple[AccreditationApplication, AccreditationCertificate]:
    """``in_review`` → ``approved``: the roles are added, the participant is active (unless blocked),
    it enters the register and receives an accreditation certificate. One transaction."""
    application = _move(application_id, APPROVE, actor_id)
    participant = require_participant(application.participant_id)
    participant.roles = [r for r in ROLES if r in (participant.roles or []) or r in application.roles]
    if participant.status != BLOCKED:
        if participant.status != ACTIVE:
            participant.status_changed_at = clock.now_int()
        participant.status = ACTIVE
    if participant.accredited_at is None:
        participant.accredited_at = clock.now_int()
    certificate = issue_certificate(participant, application)
    db.session.commit()
    audit(
        "accreditation.approved",
        application_id=application.id,
        participant_id=participant.id,
        roles=list(participant.roles),
        certificate_number=certificate.number,
        actor_id=application.reviewer_id,
    )
    return application, certificate


def reject(application_id: str, actor_id: str, reason: str) -> AccreditationApplication:
    """``in_review`` → ``rejected``, saying why; the participant may apply again."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not 1 <= len(text) <= MAX_REASON:
        raise ReasonRequired(f"a rejection needs a reason of 1 to {MAX_REASON} characters")
    application = _move(application_id, REJECT, actor_id, rejection_reason=text)
    db.session.commit()
    # The reason is free text: it stays with the application, not in the log.
    audit("accreditation.rejected", application_id=application.id, actor_id=application.reviewer_id)
    return application
