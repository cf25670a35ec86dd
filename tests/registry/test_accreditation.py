"""Accreditation applications: apply, review, approve or reject; every refusal changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry import accreditation
from registry.accreditation import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    AccreditationError,
    ApplicationAlreadyOpen,
    ApplicationNotFound,
    Document,
    InvalidDocument,
    InvalidRolesAsked,
    ReasonRequired,
    TransitionNotAllowed,
)
from registry.models import AccreditationApplication, AccreditationDocument
from registry.participants import (
    API_PROVIDER,
    API_USER,
    ParticipantBlocked,
    UnknownParticipant,
    add_participant,
    block_participant,
    get_participant,
    unblock_participant,
)
from senim.database import db
from tests.support.accreditation import APPLICANT, OPERATOR, new_bin, pdf, registered
from tests.support.audit_log import AuditLines


def _applications() -> int:
    return db.session.scalar(select(func.count()).select_from(AccreditationApplication))


def _in_review(roles: list[str] | None = None):
    participant = registered()
    application = accreditation.apply(participant.id, roles or [API_USER], [pdf()], APPLICANT)
    accreditation.start_review(application.id, OPERATOR)
    return participant, application


# -- applying -------------------------------------------------------------------------------------
def test_an_application_is_submitted_with_its_documents_and_history(app, clock) -> None:
    participant = registered()
    with AuditLines() as lines:
        application = accreditation.apply(
            participant.id, [API_USER, API_PROVIDER], [pdf("charter"), pdf("licence")], APPLICANT
        )
    assert application.status == "submitted"
    assert application.roles == [API_USER, API_PROVIDER]
    assert application.submitted_at == int(clock.now())
    documents = accreditation.documents(application.id)
    assert [d.filename for d in documents] == ["charter.pdf", "licence.pdf"]
    assert documents[0].content.startswith(b"%PDF-")
    assert documents[0].content_type == "application/pdf"
    assert len(documents[0].sha256) == 64 and documents[0].size == len(documents[0].content)
    [step] = [e.as_dict() for e in accreditation.history(application.id)]
    assert step == {
        "at": int(clock.now()),
        "actor_id": APPLICANT,
        "action": "applied",
        "from_status": None,
        "to_status": "submitted",
        "reason": None,
    }
    [event] = lines.events("accreditation.applied")
    assert event["participant_id"] == participant.id and event["documents"] == 2
    assert "charter" not in lines.text()  # no document names or contents in the log


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (Document("a.pdf", b"GIF89a not a pdf"), "not a PDF"),
        (Document("a.pdf", b""), "empty"),
        (Document("a.pdf", b"%PDF-" + b"0" * MAX_DOCUMENT_BYTES), "at most 4 MiB"),
        (Document("a.docx", b"%PDF-1.4", content_type="application/msword"), "PDF only"),
        (Document("", b"%PDF-1.4"), "file name"),
    ],
)
def test_a_document_that_is_not_an_acceptable_pdf_is_refused(app, document, says) -> None:
    participant = registered()
    with pytest.raises(InvalidDocument, match=says):
        accreditation.apply(participant.id, [API_USER], [pdf(), document], APPLICANT)
    assert _applications() == 0
    assert db.session.scalar(select(func.count()).select_from(AccreditationDocument)) == 0


def test_an_application_needs_documents_and_not_too_many(app) -> None:
    participant = registered()
    with pytest.raises(InvalidDocument, match="at least one"):
        accreditation.apply(participant.id, [API_USER], [], APPLICANT)
    with pytest.raises(InvalidDocument, match=f"at most {MAX_DOCUMENTS}"):
        accreditation.apply(participant.id, [API_USER], [pdf()] * (MAX_DOCUMENTS + 1), APPLICANT)
    assert _applications() == 0


def test_a_document_name_is_kept_without_its_path(app) -> None:
    participant = registered()
    application = accreditation.apply(
        participant.id, [API_USER], [Document("../../etc/passwd.pdf", b"%PDF-1.4")], APPLICANT
    )
    assert accreditation.documents(application.id)[0].filename == "passwd.pdf"


@pytest.mark.parametrize(
    ("roles", "says"), [([], "at least one"), (["bank"], "unknown role"), ("api_user", "list")]
)
def test_roles_asked_must_be_roles(app, roles, says) -> None:
    participant = registered()
    with pytest.raises(InvalidRolesAsked, match=says):
        accreditation.apply(participant.id, roles, [pdf()], APPLICANT)
    assert _applications() == 0


def test_a_role_already_held_cannot_be_asked_for(app) -> None:
    bank = add_participant(name="Altyn Bank", bin=new_bin(), roles=[API_PROVIDER])
    with pytest.raises(InvalidRolesAsked, match="already holds api_provider"):
        accreditation.apply(bank.id, [API_PROVIDER], [pdf()], APPLICANT)
    application = accreditation.apply(bank.id, [API_USER], [pdf()], APPLICANT)  # the other role: yes
    assert application.status == "submitted"


def test_one_open_application_per_participant(app) -> None:
    participant = registered()
    accreditation.apply(participant.id, [API_USER], [pdf()], APPLICANT)
    with pytest.raises(ApplicationAlreadyOpen):
        accreditation.apply(participant.id, [API_PROVIDER], [pdf()], APPLICANT)
    assert _applications() == 1


def test_an_unknown_or_blocked_participant_cannot_apply(app) -> None:
    with pytest.raises(UnknownParticipant):
        accreditation.apply("00000000-0000-4000-8000-000000000000", [API_USER], [pdf()], APPLICANT)
    participant = registered()
    block_participant(participant.id, "fraud suspected")
    with pytest.raises(ParticipantBlocked):
        accreditation.apply(participant.id, [API_USER], [pdf()], APPLICANT)
    assert _applications() == 0


def test_every_step_needs_an_actor(app) -> None:
    participant = registered()
    with pytest.raises(AccreditationError, match="actor"):
        accreditation.apply(participant.id, [API_USER], [pdf()], "  ")
    application = accreditation.apply(participant.id, [API_USER], [pdf()], APPLICANT)
    with pytest.raises(AccreditationError, match="actor"):
        accreditation.start_review(application.id, "")
    assert accreditation.get_application(application.id).status == "submitted"


# -- the operators' queue and steps ---------------------------------------------------------------
def test_the_queue_lists_open_applications_oldest_first(app, clock) -> None:
    first = accreditation.apply(registered("First").id, [API_USER], [pdf()], APPLICANT)
    clock.advance(60)
    second = accreditation.apply(registered("Second").id, [API_USER], [pdf()], APPLICANT)
    clock.advance(60)
    decided = accreditation.apply(registered("Decided").id, [API_USER], [pdf()], APPLICANT)
    accreditation.start_review(decided.id, OPERATOR)
    accreditation.reject(decided.id, OPERATOR, "documents unreadable")
    accreditation.start_review(second.id, OPERATOR)
    assert [a.id for a in accreditation.list_queue()] == [first.id, second.id]


def test_approval_adds_the_roles_activates_and_certifies(app, clock) -> None:
    participant, application = _in_review([API_USER, API_PROVIDER])
    clock.advance(3600)
    with AuditLines() as lines:
        approved, certificate = accreditation.approve(application.id, OPERATOR)
    participant = get_participant(participant.id)
    assert approved.status == "approved" and approved.decided_at == int(clock.now())
    assert participant.status == "active"
    assert participant.roles == [API_PROVIDER, API_USER]
    assert participant.accredited_at == int(clock.now())
    assert certificate.participant_id == participant.id and certificate.roles == [API_PROVIDER, API_USER]
    assert [e.action for e in accreditation.history(application.id)] == [
        "applied",
        "review_started",
        "approved",
    ]
    assert all(e.actor_id == OPERATOR for e in accreditation.history(application.id)[1:])
    [event] = lines.events("accreditation.approved")
    assert event["certificate_number"] == certificate.number and event["actor_id"] == OPERATOR


def test_a_rejection_needs_a_reason_kept_in_history_not_in_the_log(app) -> None:
    participant, application = _in_review()
    with pytest.raises(ReasonRequired):
        accreditation.reject(application.id, OPERATOR, "   ")
    assert accreditation.get_application(application.id).status == "in_review"
    with AuditLines() as lines:
        rejected = accreditation.reject(application.id, OPERATOR, "the licence is expired")
    assert rejected.status == "rejected" and rejected.rejection_reason == "the licence is expired"
    assert accreditation.history(application.id)[-1].reason == "the licence is expired"
    assert "licence" not in lines.text()
    assert get_participant(participant.id).status == "registered"
    assert get_participant(participant.id).roles == []


def test_a_rejected_participant_may_apply_again(app) -> None:
    participant, application = _in_review()
    accreditation.reject(application.id, OPERATOR, "incomplete")
    again = accreditation.apply(participant.id, [API_USER], [pdf("complete")], APPLICANT)
    assert again.id != application.id and again.status == "submitted"
    assert {a.id for a in accreditation.applications_of(participant.id)} == {again.id, application.id}


@pytest.mark.parametrize(
    ("done", "step"),
    [
        ([], "approve"),  # submitted: not reviewed yet
        ([], "reject"),
        (["start_review"], "start_review"),  # in review already
        (["start_review", "approve"], "approve"),  # decided
        (["start_review", "approve"], "reject"),
        (["start_review", "approve"], "start_review"),
        (["start_review", "reject"], "approve"),
        (["start_review", "reject"], "start_review"),
    ],
)
def test_a_step_from_the_wrong_state_is_refused(app, done, step) -> None:
    participant = registered()
    application = accreditation.apply(participant.id, [API_USER], [pdf()], APPLICANT)
    moves = {
        "start_review": lambda: accreditation.start_review(application.id, OPERATOR),
        "approve": lambda: accreditation.approve(application.id, OPERATOR),
        "reject": lambda: accreditation.reject(application.id, OPERATOR, "no"),
    }
    for name in done:
        moves[name]()
    before = accreditation.get_application(application.id).status
    steps = len(accreditation.history(application.id))
    with pytest.raises(TransitionNotAllowed, match=f"is {before}"):
        moves[step]()
    assert accreditation.get_application(application.id).status == before
    assert len(accreditation.history(application.id)) == steps


def test_an_unknown_application_is_not_found(app) -> None:
    for call in (
        lambda: accreditation.start_review("nope", OPERATOR),
        lambda: accreditation.approve("nope", OPERATOR),
        lambda: accreditation.history("nope"),
        lambda: accreditation.documents("nope"),
    ):
        with pytest.raises(ApplicationNotFound):
            call()


# -- blocked participants and approval --------------------------------------------------------------
def test_approving_a_blocked_participant_keeps_it_blocked_until_unblocked(app) -> None:
    participant, application = _in_review()
    block_participant(participant.id, "investigation")
    accreditation.approve(application.id, OPERATOR)
    assert get_participant(participant.id).status == "blocked"
    assert get_participant(participant.id).roles == [API_USER]
    assert unblock_participant(participant.id).status == "active"


def test_unblocking_restores_registered_or_active(app) -> None:
    newcomer = registered("Newcomer")
    block_participant(newcomer.id, "spam registrations")
    assert unblock_participant(newcomer.id).status == "registered"
    bank = add_participant(name="Altyn Bank", bin=new_bin(), roles=[API_PROVIDER])
    block_participant(bank.id, "unpaid")
    assert unblock_participant(bank.id).status == "active"
