"""Appeals: routing by category, SLA deadlines, reminders and escalation, the workflow, disputes'
resolutions with their billing adjustment, access, links and attachments."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, insert, select, update

from registry import appeals
from registry.appeal_models import Appeal, AppealEvent
from registry.appeals import (
    Actor,
    AppealChanged,
    AppealError,
    AppealNotFound,
    Attachment,
    InvalidAttachment,
    LinkRefused,
    Resolution,
    ResolutionRequired,
    TooManyOpenAppeals,
    TransitionNotAllowed,
)
from registry.billing import BillingError
from registry.models import BillingAdjustment, ParticipantNotification
from registry.staff import NotPermitted
from resource_proxy.models import RoutedCall
from senim.database import db
from tests.support.appeals import (
    CUSTOMER_IIN,
    JPEG,
    OTHER_IIN,
    PDF,
    PNG,
    consent,
    member,
    parties,
    routed_call,
)


@pytest.fixture
def world(app):
    """The parties, one staff member each (the fintech's admin, the bank's developer and viewer,
    the other bank's admin), an operator and a regulator."""
    p = parties()
    return {
        "p": p,
        "fintech": Actor.of_staff(member(p.fintech, "admin", "dana@qarjy.kz")),
        "bank": Actor.of_staff(member(p.bank, "developer", "arman@altyn.kz")),
        "bank_viewer": Actor.of_staff(member(p.bank, "viewer", "viewer@altyn.kz")),
        "other": Actor.of_staff(member(p.other_bank, "admin", "admin@dala.kz")),
        "operator": Actor.of_staff(member(None, "operator", "aliya@senim.kz")),
        "regulator": Actor.of_staff(member(None, "regulator", "inspector@nbk.kz")),
        "customer": Actor.of_customer(CUSTOMER_IIN),
        "other_customer": Actor.of_customer(OTHER_IIN),
    }


def _dispute(world, **overrides):
    p = world["p"]
    call = routed_call(p.fintech, p.bank, "int-dispute-1")
    fields = {
        "category": "dispute",
        "subject": "Charged twice for one balances call",
        "text": "The call int-dispute-1 was answered once but billed twice.",
        "interaction_id": call.interaction_id,
    }
    fields.update(overrides)
    return appeals.file_appeal(world["fintech"], **fields)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- routing and deadlines -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("category", "team", "sla_hours"),
    [
        ("question", "support", 72),
        ("incident", "operations", 4),
        ("dispute", "billing", 240),
        ("complaint", "compliance", 120),
    ],
)
def test_each_category_goes_to_its_team_with_its_sla_deadline(world, clock, category, team, sla_hours):
    p = world["p"]
    call = routed_call(p.fintech, p.bank, f"int-{category}")
    appeal = appeals.file_appeal(
        world["fintech"],
        category=category,
        subject="About a call",
        text="Details",
        interaction_id=call.interaction_id,
    )
    assert (appeal.team, appeal.status) == (team, "new")
    assert appeal.deadline_at - appeal.created_at == sla_hours * 3600
    assert appeal.created_at == int(clock.now())
    assert appeal.number == f"A-{appeal.seq:06d}"


def test_a_dispute_is_addressed_to_the_counterparty_of_the_routed_call_either_way(world):
    p = world["p"]
    by_user = _dispute(world)
    assert (by_user.addressed_to_id, by_user.concerns_id, by_user.routed_call_id) == (
        p.bank,
        p.bank,
        by_user.routed_call_id,
    )
    by_provider = appeals.file_appeal(
        world["bank"], category="dispute", subject="Unpaid calls", text="…", interaction_id="int-dispute-1"
    )
    assert by_provider.addressed_to_id == p.fintech
    [told] = db.session.scalars(
        select(ParticipantNotification).where(ParticipantNotification.participant_id == p.bank)
    ).all()
    assert told.kind == "appeal.dispute" and by_user.number in told.subject


def test_an_incident_about_a_call_is_told_to_the_provider_a_question_to_nobody(world):
    p = world["p"]
    routed_call(p.fintech, p.bank, "int-incident")
    incident = appeals.file_appeal(
        world["fintech"], category="incident", subject="504s", text="Timeouts", interaction_id="int-incident"
    )
    assert incident.addressed_to_id == p.bank
    question = appeals.file_appeal(world["fintech"], category="question", subject="How?", text="How to…")
    assert question.addressed_to_id is None and question.concerns_id is None
    assert _count(ParticipantNotification) == 1


def test_a_complaint_names_another_participant_and_is_not_shown_to_it(world):
    p = world["p"]
    with pytest.raises(AppealError, match="names the participant"):
        appeals.file_appeal(world["fintech"], category="complaint", subject="Rude", text="…")
    with pytest.raises(AppealError, match="another participant"):
        appeals.file_appeal(
            world["fintech"], category="complaint", subject="Us", text="…", concerns_id=p.fintech
        )
    complaint = appeals.file_appeal(
        world["fintech"], category="complaint", subject="Misuse", text="…", concerns_id=p.bank
    )
    assert (complaint.team, complaint.concerns_id, complaint.addressed_to_id) == ("compliance", p.bank, None)
    with pytest.raises(AppealNotFound):
        appeals.get_appeal(world["bank"], complaint.id)


def test_a_dispute_needs_a_routed_call_and_a_party_filing_it(world):
    with pytest.raises(AppealError, match="names the routed call"):
        appeals.file_appeal(world["fintech"], category="dispute", subject="x", text="y")
    routed_call(world["p"].fintech, world["p"].bank, "int-op")
    with pytest.raises(AppealError, match="filed by one of its parties"):
        appeals.file_appeal(
            world["operator"], category="dispute", subject="x", text="y", interaction_id="int-op"
        )
    with pytest.raises(AppealError, match="disputes are participants'"):
        appeals.file_appeal(world["customer"], category="dispute", subject="x", text="y")


def test_reminded_once_at_80_percent_and_escalated_once_after_the_deadline(world, clock):
    p = world["p"]
    routed_call(p.fintech, p.bank, "int-late")
    appeal = appeals.file_appeal(
        world["fintech"], category="incident", subject="Down", text="…", interaction_id="int-late"
    )  # 4 hours
    assert appeals.run_appeal_deadlines().reminded == []
    clock.advance(0.8 * 4 * 3600 - 1)
    assert appeals.run_appeal_deadlines().reminded == []
    clock.advance(1)
    first = appeals.run_appeal_deadlines()
    assert (first.reminded, first.escalated) == ([appeal.id], [])
    assert appeals.run_appeal_deadlines().reminded == []  # once
    clock.advance(0.2 * 4 * 3600)  # exactly at the deadline: not overdue yet
    assert appeals.run_appeal_deadlines().escalated == []
    assert appeals.overdue() == []
    clock.advance(1)
    assert appeals.run_appeal_deadlines().escalated == [appeal.id]
    assert appeals.run_appeal_deadlines() == appeals.DeadlineRound(reminded=[], escalated=[])
    assert [a.id for a in appeals.overdue()] == [appeal.id]
    actions = [e.action for e in appeals.history(appeal.id)]
    assert actions == ["filed", "reminded", "escalated"]
    kinds = db.session.scalars(
        select(ParticipantNotification.kind).where(ParticipantNotification.participant_id == p.bank)
    ).all()
    assert sorted(kinds) == ["appeal.escalated", "appeal.incident", "appeal.reminder"]
    escalated = db.session.get(Appeal, appeal.id)
    assert escalated.escalated_at == int(clock.now())


def test_a_resolved_appeal_is_neither_reminded_nor_escalated(world, clock):
    appeal = appeals.file_appeal(world["fintech"], category="question", subject="How?", text="…")
    appeals.resolve(world["operator"], appeal.id, Resolution(summary="See docs/appeals.md"))
    clock.advance(4 * 24 * 3600)
    assert appeals.run_appeal_deadlines() == appeals.DeadlineRound(reminded=[], escalated=[])


def test_a_reopened_appeal_is_reminded_at_80_percent_of_its_new_sla_not_of_its_filing(world, clock):
    fintech = world["fintech"]
    appeal = appeals.file_appeal(fintech, category="question", subject="Limits?", text="…")  # 3 days
    clock.advance(3600)
    appeals.resolve(world["operator"], appeal.id, Resolution(summary="100 calls a second."))
    clock.advance(10 * 24 * 3600)  # much later, the filer reopens it: the SLA starts again
    appeals.change_status(fintech, appeal.id, "in_progress", "The limit is wrong")
    assert appeals.run_appeal_deadlines().reminded == []
    clock.advance(0.8 * 3 * 24 * 3600 - 1)
    assert appeals.run_appeal_deadlines().reminded == []
    clock.advance(1)
    assert appeals.run_appeal_deadlines().reminded == [appeal.id]
    clock.advance(0.2 * 3 * 24 * 3600 + 1)
    assert appeals.run_appeal_deadlines().escalated == [appeal.id]


# -- the workflow --------------------------------------------------------------------------------
def test_the_workflow_from_new_to_closed_and_reopened_with_a_reason(world, clock):
    operator, fintech = world["operator"], world["fintech"]
    appeal = appeals.file_appeal(fintech, category="question", subject="Limits?", text="What are the limits?")
    appeals.assign(operator, appeal.id, operator.staff.id)
    assert db.session.get(Appeal, appeal.id).status == "in_progress"
    appeals.change_status(operator, appeal.id, "waiting_for_reply")
    appeals.comment(fintech, appeal.id, "Here is more detail.")  # the filer's reply
    assert db.session.get(Appeal, appeal.id).status == "in_progress"
    appeals.resolve(operator, appeal.id, Resolution(summary="100 calls a second."))
    appeals.change_status(fintech, appeal.id, "closed")
    with pytest.raises(AppealError, match="a reason to reopen"):
        appeals.change_status(fintech, appeal.id, "in_progress", "  ")
    clock.advance(3600)
    reopened = appeals.change_status(fintech, appeal.id, "in_progress", "The limit is wrong")
    assert reopened.status == "in_progress" and reopened.deadline_at == int(clock.now()) + 3 * 24 * 3600
    events = appeals.history(appeal.id)
    assert [(e.action, e.to_status) for e in events] == [
        ("filed", "new"),
        ("assigned", None),
        ("status_changed", "in_progress"),
        ("status_changed", "waiting_for_reply"),
        ("commented", None),
        ("replied", "in_progress"),
        ("resolved", "resolved"),
        ("status_changed", "closed"),
        ("reopened", "in_progress"),
    ]
    assert events[-1].text == "The limit is wrong" and events[-1].actor == f"staff:{fintech.staff.id}"


@pytest.mark.parametrize(
    ("who", "to_status", "says"),
    [
        ("fintech", "in_progress", "filer cannot"),  # only the handler starts it
        ("operator", "closed", "cannot become closed"),  # a new appeal is not closed straight away
        ("bank", "waiting_for_reply", "addressed cannot"),
        ("operator", "new", "cannot become new"),
        ("operator", "archived", "cannot become archived"),
    ],
)
def test_a_transition_not_in_the_table_or_not_for_this_side_is_refused(world, who, to_status, says):
    appeal = _dispute(world)
    with pytest.raises(TransitionNotAllowed, match=says):
        appeals.change_status(world[who], appeal.id, to_status, "because")
    assert db.session.get(Appeal, appeal.id).status == "new"


def test_resolving_goes_through_the_resolution_and_only_an_operator_resolves(world):
    appeal = _dispute(world)
    with pytest.raises(ResolutionRequired):
        appeals.change_status(world["operator"], appeal.id, "resolved")
    with pytest.raises(TransitionNotAllowed):
        appeals.resolve(world["bank"], appeal.id, Resolution(summary="We refund", outcome="upheld"))
    with pytest.raises(TransitionNotAllowed, match="cannot become closed"):
        appeals.change_status(world["fintech"], appeal.id, "closed")


def test_a_closed_appeal_takes_no_comments_until_reopened(world):
    operator = world["operator"]
    appeal = appeals.file_appeal(world["fintech"], category="question", subject="?", text="?")
    appeals.resolve(operator, appeal.id, Resolution(summary="Answered"))
    appeals.change_status(operator, appeal.id, "closed")
    with pytest.raises(TransitionNotAllowed, match="closed"):
        appeals.comment(world["fintech"], appeal.id, "One more thing")


def test_a_status_changed_by_another_request_meanwhile_is_not_overwritten(world, monkeypatch):
    """Another operator moves the appeal between this request's read and its write: the status
    change is claimed by ``UPDATE … WHERE status = :seen``, matches no row, and writes nothing."""
    appeal = _dispute(world)
    events_before = len(appeals.history(appeal.id))
    real_check = appeals.check_transition

    def other_moves_it_first(row, to_status, side):
        real_check(row, to_status, side)  # checked against the status read: new
        with db.engine.begin() as other:
            other.execute(
                update(Appeal.__table__).where(Appeal.__table__.c.id == row.id).values(status="in_progress")
            )

    monkeypatch.setattr(appeals, "check_transition", other_moves_it_first)
    with pytest.raises(AppealChanged, match="the appeal was changed meanwhile: reload it"):
        appeals.change_status(world["operator"], appeal.id, "waiting_for_reply")
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "in_progress"
    assert len(appeals.history(appeal.id)) == events_before


def test_the_claim_of_a_status_change_wins_once(world, clock):
    appeal = _dispute(world)
    stale = db.session.get(Appeal, appeal.id)
    assert appeals.claim_status(stale, "in_progress", int(clock.now())) == "new"
    db.session.commit()
    # a second request holding the appeal as it read it (new)
    from sqlalchemy.orm.attributes import set_committed_value

    set_committed_value(stale, "status", "new")
    with pytest.raises(AppealChanged):
        appeals.claim_status(stale, "in_progress", int(clock.now()))
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "in_progress"


def test_of_two_resolutions_sent_at_once_one_is_stored_with_one_adjustment(world, monkeypatch, clock):
    """The loser of the race: another operator's resolution (and its refund) commits between this
    request's read of the appeal and its write. This one is refused and records nothing."""
    p, operator = world["p"], world["operator"]
    appeal = _dispute(world)
    events_before = len(appeals.history(appeal.id))
    real_check = appeals.check_resolution

    def other_resolves_first(row, resolution):
        with db.engine.begin() as other:
            other.execute(
                update(Appeal.__table__).where(Appeal.__table__.c.id == row.id).values(status="resolved")
            )
            other.execute(
                insert(BillingAdjustment.__table__).values(
                    id="the-other-refund",
                    api_user_id=p.fintech,
                    provider_id=p.bank,
                    amount_tiyn=-1250,
                    reason="Refund of a call billed twice",
                    appeal_id=row.id,
                    recorded_by="staff:other",
                    created_at=int(clock.now()),
                )
            )
        return real_check(row, resolution)

    monkeypatch.setattr(appeals, "check_resolution", other_resolves_first)
    refund = Resolution(summary="Billed twice: refunded.", outcome="upheld", amount_tenge="12.50")
    with pytest.raises(AppealChanged, match="changed meanwhile"):
        appeals.resolve(operator, appeal.id, refund)
    db.session.expire_all()
    assert db.session.scalars(select(BillingAdjustment.id)).all() == ["the-other-refund"]
    assert len(appeals.history(appeal.id)) == events_before


def test_a_reopened_dispute_resolved_again_moves_no_more_money(world):
    operator, fintech = world["operator"], world["fintech"]
    appeal = _dispute(world)
    first = appeals.resolve(
        operator,
        appeal.id,
        Resolution(summary="Billed twice: refunded.", outcome="upheld", amount_tenge="12.50"),
    ).adjustment_id
    appeals.change_status(fintech, appeal.id, "in_progress", "Three calls were billed twice, not one")
    with pytest.raises(
        ResolutionRequired,
        match=re.escape(
            "this dispute's adjustment of -12.50 KZT is already recorded; a further correction is an"
            " adjustment in Billing, with its reason"
        ),
    ):
        appeals.resolve(
            operator, appeal.id, Resolution(summary="Two more", outcome="upheld", amount_tenge="25")
        )
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "in_progress" and _count(BillingAdjustment) == 1
    again = appeals.resolve(
        operator, appeal.id, Resolution(summary="The other two were billed once.", outcome="partly_upheld")
    )
    assert (again.status, again.outcome, again.adjustment_id) == ("resolved", "partly_upheld", first)
    assert _count(BillingAdjustment) == 1
    assert appeals.recorded_adjustment(appeal.id).id == first


# -- disputes: resolution and the adjustment ---------------------------------------------------------
def test_a_dispute_is_not_resolved_without_an_outcome(world):
    appeal = _dispute(world)
    with pytest.raises(ResolutionRequired, match="outcome"):
        appeals.resolve(world["operator"], appeal.id, Resolution(summary="Done"))
    assert db.session.get(Appeal, appeal.id).status == "new"


def test_a_dispute_resolved_with_a_refund_records_the_adjustment_with_it(world, clock):
    p, operator = world["p"], world["operator"]
    appeal = _dispute(world)
    appeals.comment(world["bank"], appeal.id, "We see two charges; agreed.")
    resolved = appeals.resolve(
        operator,
        appeal.id,
        Resolution(
            summary="Billed twice: refunded.",
            outcome="upheld",
            amount_tenge="12.50",
            direction="refund",
            adjustment_reason="Refund of a call billed twice",
        ),
    )
    adjustment = db.session.get(BillingAdjustment, resolved.adjustment_id)
    assert (adjustment.api_user_id, adjustment.provider_id, adjustment.amount_tiyn) == (
        p.fintech,
        p.bank,
        -1250,
    )
    assert (adjustment.appeal_id, adjustment.reason, adjustment.period) == (
        appeal.id,
        "Refund of a call billed twice",
        None,
    )
    assert (resolved.status, resolved.outcome, resolved.resolved_at) == (
        "resolved",
        "upheld",
        int(clock.now()),
    )
    # then the filer closes it (the counterparty may not)
    with pytest.raises(TransitionNotAllowed, match="addressed cannot"):
        appeals.change_status(world["bank"], appeal.id, "closed")
    assert appeals.change_status(world["fintech"], appeal.id, "closed").status == "closed"


def test_a_charge_is_positive_and_a_rejected_dispute_moves_no_money(world):
    operator = world["operator"]
    appeal = _dispute(world)
    with pytest.raises(ResolutionRequired, match="rejected dispute moves no money"):
        appeals.resolve(operator, appeal.id, Resolution(summary="No", outcome="rejected", amount_tenge="5"))
    for amount, says in (
        ("-5", "more than zero tenge: its direction says who pays"),
        ("1.005", "two decimals"),
        ("0", "non-zero"),
        ("abc", "not an amount"),
        ("10000000.01", "at most 10,000,000 tenge"),
    ):
        with pytest.raises(ResolutionRequired, match=says):
            appeals.resolve(
                operator, appeal.id, Resolution(summary="Yes", outcome="upheld", amount_tenge=amount)
            )
    resolved = appeals.resolve(
        operator,
        appeal.id,
        Resolution(summary="Underbilled", outcome="partly_upheld", amount_tenge="3", direction="charge"),
    )
    assert db.session.get(BillingAdjustment, resolved.adjustment_id).amount_tiyn == 300


def test_a_refused_adjustment_leaves_the_dispute_unresolved_and_records_nothing(world, monkeypatch):
    appeal = _dispute(world)
    events_before = len(appeals.history(appeal.id))
    # record_adjustment refuses it (its provider is not on record) after the appeal was changed
    call = db.session.get(RoutedCall, appeal.routed_call_id)
    call.provider_id = "00000000-0000-4000-8000-000000000000"
    db.session.commit()
    with pytest.raises(BillingError, match="no participant"):
        appeals.resolve(
            world["operator"],
            appeal.id,
            Resolution(summary="Refund", outcome="upheld", amount_tenge="100000"),
        )
    db.session.expire_all()
    kept = db.session.get(Appeal, appeal.id)
    assert (kept.status, kept.outcome, kept.resolution, kept.adjustment_id) == ("new", None, None, None)
    assert _count(BillingAdjustment) == 0 and len(appeals.history(appeal.id)) == events_before

    def broken(**_kwargs):
        db.session.add(BillingAdjustment(id="half-written"))  # the failure comes after a write
        raise RuntimeError("the database went away")

    monkeypatch.setattr(appeals, "record_adjustment", broken)
    with pytest.raises(RuntimeError):
        appeals.resolve(
            world["operator"], appeal.id, Resolution(summary="Refund", outcome="upheld", amount_tenge="1")
        )
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "new" and _count(BillingAdjustment) == 0
    assert _count(AppealEvent) == events_before


def test_money_moves_only_on_a_dispute(world):
    appeal = appeals.file_appeal(world["fintech"], category="question", subject="?", text="?")
    with pytest.raises(ResolutionRequired, match="only a dispute"):
        appeals.resolve(world["operator"], appeal.id, Resolution(summary="x", amount_tenge="1"))


# -- limits ---------------------------------------------------------------------------------------
def test_a_filer_has_at_most_20_appeals_not_closed(world):
    fintech, operator = world["fintech"], world["operator"]
    filed = [
        appeals.file_appeal(fintech, category="question", subject=f"Q{n}", text="?")
        for n in range(appeals.MAX_OPEN_PER_FILER)
    ]
    with pytest.raises(TooManyOpenAppeals, match="you have 20 appeals that are not closed"):
        appeals.file_appeal(fintech, category="question", subject="One more", text="?")
    assert _count(Appeal) == 20
    # a colleague files on (the cap is per account), and a closed appeal frees a place
    colleague = Actor.of_staff(member(world["p"].fintech, "developer", "aigerim@qarjy.kz"))
    appeals.file_appeal(colleague, category="question", subject="Mine", text="?")
    appeals.resolve(operator, filed[0].id, Resolution(summary="Answered"))
    with pytest.raises(TooManyOpenAppeals):  # resolved is not closed yet
        appeals.file_appeal(fintech, category="question", subject="One more", text="?")
    appeals.change_status(fintech, filed[0].id, "closed")
    appeals.file_appeal(fintech, category="question", subject="One more", text="?")


def test_a_customer_has_at_most_20_appeals_not_closed_too(world, monkeypatch):
    monkeypatch.setattr(appeals, "MAX_OPEN_PER_FILER", 2)
    for n in range(2):
        appeals.file_appeal(world["customer"], category="question", subject=f"Q{n}", text="?")
    with pytest.raises(TooManyOpenAppeals):
        appeals.file_appeal(world["customer"], category="question", subject="Q3", text="?")
    appeals.file_appeal(world["other_customer"], category="question", subject="Q", text="?")


# -- access ---------------------------------------------------------------------------------------
def test_a_participant_sees_what_it_filed_and_what_is_addressed_to_it_and_nothing_else(world):
    p = world["p"]
    dispute = _dispute(world)
    question = appeals.file_appeal(world["other"], category="question", subject="?", text="?")
    assert appeals.get_appeal(world["fintech"], dispute.id)[1] == "filer"
    assert appeals.get_appeal(world["bank"], dispute.id)[1] == "addressed"
    assert appeals.get_appeal(world["operator"], dispute.id)[1] == "handler"
    for outsider in ("other", "regulator", "customer"):
        with pytest.raises(AppealNotFound):
            appeals.get_appeal(world[outsider], dispute.id)
    with pytest.raises(AppealNotFound):
        appeals.get_appeal(world["fintech"], question.id)
    with pytest.raises(AppealNotFound):
        appeals.get_appeal(world["fintech"], "no-such-appeal")
    assert [a.id for a in appeals.appeals_filed_by(p.fintech)] == [dispute.id]
    assert [a.id for a in appeals.appeals_addressed_to(p.bank)] == [dispute.id]
    assert appeals.appeals_filed_by(p.bank) == [] and appeals.appeals_addressed_to(p.other_bank) == []


def test_outsiders_cannot_comment_and_a_viewer_cannot_answer(world):
    dispute = _dispute(world)
    with pytest.raises(AppealNotFound):
        appeals.comment(world["other"], dispute.id, "Me too")
    with pytest.raises(NotPermitted, match="answer_appeals"):
        appeals.comment(world["bank_viewer"], dispute.id, "Looks fine")
    with pytest.raises(AppealNotFound):
        appeals.change_status(world["other_customer"], dispute.id, "closed")
    with pytest.raises(TransitionNotAllowed, match="only an operator"):
        appeals.assign(world["fintech"], dispute.id, world["operator"].staff.id)


def test_a_customer_sees_only_their_own_appeals(world):
    p = world["p"]
    mine = consent(p.fintech, p.bank)
    appeal = appeals.file_appeal(
        world["customer"],
        category="complaint",
        subject="Data",
        text="The app reads too much",
        consent_id=mine.id,
    )
    assert (appeal.filer_customer_iin, appeal.concerns_id, appeal.filer_participant_id) == (
        CUSTOMER_IIN,
        p.fintech,
        None,
    )
    assert appeals.get_appeal(world["customer"], appeal.id)[1] == "filer"
    assert [a.id for a in appeals.appeals_of_customer(CUSTOMER_IIN)] == [appeal.id]
    for outsider in ("other_customer", "fintech", "bank"):
        with pytest.raises(AppealNotFound):
            appeals.get_appeal(world[outsider], appeal.id)
    # the history never names the customer by IIN
    assert all(CUSTOMER_IIN not in e.actor for e in appeals.history(appeal.id))


def test_filing_takes_the_file_appeals_permission_and_an_active_member(world):
    p = world["p"]
    removed = member(p.fintech, "developer", "gone@qarjy.kz")
    removed.status = "removed"
    db.session.commit()
    with pytest.raises(NotPermitted):
        appeals.file_appeal(Actor.of_staff(removed), category="question", subject="?", text="?")
    with pytest.raises(NotPermitted):
        appeals.file_appeal(world["regulator"], category="question", subject="?", text="?")


# -- links --------------------------------------------------------------------------------------
def test_links_to_what_the_filer_is_not_a_party_to_are_refused(world):
    p = world["p"]
    routed_call(p.fintech, p.bank, "int-theirs")
    theirs = consent(p.fintech, p.bank)
    refusals = [
        (world["other"], {"interaction_id": "int-theirs"}, "no routed call"),
        (world["other"], {"consent_id": theirs.id}, "no consent"),
        (world["fintech"], {"interaction_id": "int-unknown"}, "no routed call"),
        (world["fintech"], {"consent_id": "00000000-0000-4000-8000-000000000000"}, "no consent"),
        (world["fintech"], {"api_id": "00000000-0000-4000-8000-000000000000"}, "no API"),
        (world["other_customer"], {"consent_id": theirs.id}, "no consent"),
        (world["customer"], {"interaction_id": "int-theirs"}, "customer links one of their consents"),
        (world["customer"], {"api_id": "x"}, "customer links one of their consents"),
        (world["fintech"], {"interaction_id": "x" * 65}, "at most 64"),
    ]
    for actor, link, says in refusals:
        with pytest.raises(LinkRefused, match=says):
            appeals.file_appeal(actor, category="question", subject="?", text="?", **link)
    assert _count(Appeal) == 0


def test_links_to_what_the_filer_is_a_party_to_are_kept(world):
    p = world["p"]
    routed_call(p.fintech, p.bank, "int-ours", api_id="api-1", consent_id="c-1")
    theirs = consent(p.fintech, p.bank)
    by_bank = appeals.file_appeal(
        world["bank"],
        category="question",
        subject="?",
        text="?",
        consent_id=theirs.id,
        interaction_id="int-ours",
    )
    assert (by_bank.consent_id, by_bank.interaction_id, by_bank.api_id) == (theirs.id, "int-ours", "api-1")
    by_operator = appeals.file_appeal(
        world["operator"], category="question", subject="?", text="?", interaction_id="int-ours"
    )
    assert by_operator.routed_call_id == by_bank.routed_call_id


def test_an_api_link_needs_the_provider_or_a_subscriber(world):
    from registry.apis import add_api, subscribe

    p = world["p"]
    api = add_api(provider_id=p.bank, base_url="https://api.altyn.kz", publish=True)
    with pytest.raises(LinkRefused, match="no API"):
        appeals.file_appeal(world["fintech"], category="incident", subject="Down", text="…", api_id=api.id)
    subscribe(api_id=api.id, client_id="app-1", participant_id=p.fintech)
    incident = appeals.file_appeal(
        world["fintech"], category="incident", subject="Down", text="…", api_id=api.id
    )
    assert incident.addressed_to_id == p.bank
    own = appeals.file_appeal(world["bank"], category="incident", subject="Our API", text="…", api_id=api.id)
    assert own.addressed_to_id is None  # a provider does not address its own API's incident to itself


# -- attachments -----------------------------------------------------------------------------------
def test_attachments_are_pdf_png_or_jpeg_by_content_within_the_limits(world):
    appeal = appeals.file_appeal(
        world["fintech"],
        category="question",
        subject="Screens",
        text="See attached",
        attachments=[
            Attachment("../../etc/report.pdf", PDF),
            Attachment("screen.png", PNG),
            Attachment("x.jpg", JPEG),
        ],
    )
    kept = appeals.attachments_of(appeal.id)
    assert [(a.filename, a.content_type, a.size) for a in kept] == [
        ("report.pdf", "application/pdf", len(PDF)),
        ("screen.png", "image/png", len(PNG)),
        ("x.jpg", "image/jpeg", len(JPEG)),
    ]


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ([Attachment("virus.pdf", b"MZ\x90\x00 not a pdf")], "PDF, PNG or JPEG"),
        ([Attachment("page.png", b"<html>")], "PDF, PNG or JPEG"),
        ([Attachment("empty.pdf", b"")], "empty"),
        ([Attachment("big.pdf", PDF + b"0" * appeals.MAX_ATTACHMENT_BYTES)], "at most 2 MiB"),
        ([Attachment(f"{i}.pdf", PDF) for i in range(appeals.MAX_ATTACHMENTS + 1)], "at most 5 attachments"),
        ([Attachment("", PDF)], "file name"),
    ],
)
def test_a_wrong_attachment_refuses_the_whole_appeal(world, files, says):
    with pytest.raises(InvalidAttachment, match=says):
        appeals.file_appeal(world["fintech"], category="question", subject="?", text="?", attachments=files)
    assert _count(Appeal) == 0


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"category": "praise"}, "no category"),
        ({"subject": "  "}, "a subject"),
        ({"subject": "x" * 201}, "a subject"),
        ({"text": ""}, "the text"),
    ],
)
def test_a_wrong_appeal_is_refused(world, fields, says):
    with pytest.raises(AppealError, match=says):
        appeals.file_appeal(
            world["fintech"], **{"category": "question", "subject": "?", "text": "?", **fields}
        )


# -- statistics ------------------------------------------------------------------------------------
def test_team_statistics_count_open_overdue_and_resolution_times(world, clock):
    operator = world["operator"]
    fast = appeals.file_appeal(world["fintech"], category="question", subject="1", text="1")
    slow = appeals.file_appeal(world["fintech"], category="question", subject="2", text="2")
    appeals.file_appeal(world["fintech"], category="question", subject="3", text="3")
    clock.advance(3600)
    appeals.resolve(operator, fast.id, Resolution(summary="ok"))
    clock.advance(4 * 24 * 3600)
    appeals.resolve(operator, slow.id, Resolution(summary="late"))
    stats = {s.team: s for s in appeals.team_statistics()}
    support = stats["support"]
    assert (support.open, support.overdue, support.resolved) == (1, 1, 2)
    assert support.within_sla_percent == 50.0
    assert support.median_seconds_to_resolve == (3600 + (3600 + 4 * 24 * 3600)) / 2
    assert (stats["billing"].open, stats["billing"].within_sla_percent) == (0, None)
    assert [a.id for a in appeals.team_queue("support")] == [a.id for a in appeals.overdue()]


def test_the_worker_round_escalates_overdue_appeals(app, world, clock):
    import threading

    from registry.worker import run_worker

    appeal = appeals.file_appeal(world["fintech"], category="question", subject="?", text="?")
    clock.advance(3 * 24 * 3600 + 1)
    run_worker(app, threading.Event(), once=True, worker_id="w1")
    kept = db.session.get(Appeal, appeal.id, populate_existing=True)
    assert kept.reminded_at == kept.escalated_at == int(clock.now())


def test_the_demo_appeals_are_seeded_once_in_every_state(app):
    from registry.participants import API_PROVIDER, API_USER, add_participant
    from senim.demo import DEMO_BANKS, DEMO_FINTECH
    from senim.demo_appeals import seed_demo_appeals

    fintech_id = add_participant(name=DEMO_FINTECH[0], bin=DEMO_FINTECH[1], roles=[API_USER]).id
    altyn_id = add_participant(name=DEMO_BANKS[0][0], bin=DEMO_BANKS[0][1], roles=[API_PROVIDER]).id
    member(None, "operator", "operator@senim.demo")
    member(fintech_id, "admin", "admin@fintech.demo")
    member(altyn_id, "admin", "admin@altyn.demo")
    said = list(seed_demo_appeals())
    assert said[-1] == "demo appeals: 1 reminded, 1 escalated"
    seeded = db.session.scalars(select(Appeal).order_by(Appeal.seq)).all()
    assert [(a.category, a.status) for a in seeded] == [
        ("question", "closed"),
        ("incident", "new"),
        ("dispute", "resolved"),
        ("complaint", "waiting_for_reply"),
    ]
    assert [a.category for a in appeals.overdue()] == ["incident"]
    refund = db.session.get(BillingAdjustment, seeded[2].adjustment_id)
    assert (refund.amount_tiyn, refund.api_user_id, refund.provider_id) == (-2500, fintech_id, altyn_id)
    assert list(seed_demo_appeals()) == ["demo appeals present"]
    assert _count(Appeal) == 4
