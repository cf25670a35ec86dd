"""Demo appeals for `make run`: the console's queues, its overdue list and its statistics, and the
cabinets' Appeals tabs, with something in each.

Filed by the demo staff (``senim.demo.DEMO_STAFF``) through ``registry.appeals``, as on the
pages: a question answered and closed, an incident about Altyn's API past its deadline (escalated
by the deadlines' round), a dispute about a routed call answered by Altyn and resolved with a
refund (its billing adjustment lands on the fintech's next invoice), and a complaint waiting for a
reply. Seeded once: the dispute's subject marks the set as present.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from registry import appeals
from registry.appeal_models import Appeal
from registry.appeals import Actor, Resolution
from registry.staff import member_by_email
from resource_proxy.models import RoutedCall
from senim import clock
from senim.database import db

#: The routed call the demo dispute is about (a balances call of the demo fintech at Altyn).
DEMO_DISPUTE_INTERACTION_ID = "0d3e5a1c-6f2b-4c8e-9a7d-demo00000001"
DEMO_DISPUTE_SUBJECT = "Balances call billed twice"


def _demo_call(fintech_id: str, bank_id: str) -> RoutedCall:
    call = db.session.scalar(
        select(RoutedCall).where(RoutedCall.interaction_id == DEMO_DISPUTE_INTERACTION_ID)
    )
    if call is None:
        call = RoutedCall(
            at=(clock.now_int() - 2 * 86400) * 1000,
            api_user_id=fintech_id,
            client_id="senim-demo-app",
            provider_id=bank_id,
            api_id=None,
            endpoint="GET /accounts/{AccountId}/balances",
            status=200,
            outcome="routed",
            latency_ms=180,
            consent_id=None,
            interaction_id=DEMO_DISPUTE_INTERACTION_ID,
        )
        db.session.add(call)
        db.session.commit()
    return call


def _backdate(appeal: Appeal, seconds: int) -> None:
    """The demo's appeal as if filed ``seconds`` ago (its deadline and history moved with it)."""
    appeal.created_at -= seconds
    appeal.deadline_at -= seconds
    appeal.status_changed_at -= seconds
    for event in appeals.history(appeal.id):
        event.at -= seconds
    db.session.commit()


def seed_demo_appeals() -> Iterator[str]:
    """A few appeals in different states and categories (idempotent)."""
    if db.session.scalar(select(Appeal.id).where(Appeal.subject == DEMO_DISPUTE_SUBJECT)) is not None:
        yield "demo appeals present"
        return
    operator = member_by_email("operator@senim.demo")
    fintech = member_by_email("admin@fintech.demo")
    altyn = member_by_email("admin@altyn.demo")
    if None in (operator, fintech, altyn):
        yield "demo appeals skipped: the demo staff are not all there"
        return
    op, user, bank = Actor.of_staff(operator), Actor.of_staff(fintech), Actor.of_staff(altyn)
    _demo_call(fintech.participant_id, altyn.participant_id)

    question = appeals.file_appeal(
        user,
        category=appeals.QUESTION,
        subject="How is a call's price rounded?",
        text="Our invoice shows tiyn: is a price ever rounded, and where is that written?",
    )
    appeals.assign(op, question.id, operator.id)
    appeals.resolve(
        op, question.id, Resolution(summary="Prices are whole tiyn and never rounded: see docs/billing.md.")
    )
    appeals.change_status(user, question.id, appeals.CLOSED)
    yield f"demo appeal {question.number}: a question, answered and closed"

    incident = appeals.file_appeal(
        user,
        category=appeals.INCIDENT,
        subject="Timeouts from Altyn's accounts API",
        text="Since this morning one call in five to Altyn times out (504).",
        interaction_id=DEMO_DISPUTE_INTERACTION_ID,
    )
    _backdate(incident, 6 * 3600)  # an incident has 4 hours: this one is overdue
    yield f"demo appeal {incident.number}: an incident past its deadline"

    dispute = appeals.file_appeal(
        user,
        category=appeals.DISPUTE,
        subject=DEMO_DISPUTE_SUBJECT,
        text="One balances call was answered once and billed twice.",
        interaction_id=DEMO_DISPUTE_INTERACTION_ID,
    )
    appeals.comment(bank, dispute.id, "Our logs show one answer: we agree it was counted twice.")
    appeals.assign(op, dispute.id, operator.id)
    appeals.resolve(
        op,
        dispute.id,
        Resolution(
            summary="Counted twice: the call's price is refunded on the next invoice.",
            outcome=appeals.UPHELD,
            amount_tenge="25.00",
            direction=appeals.REFUND,
            adjustment_reason=f"Refund: call {DEMO_DISPUTE_INTERACTION_ID} billed twice",
        ),
    )
    yield f"demo appeal {dispute.number}: a dispute resolved with a refund of 25.00 tenge"

    complaint = appeals.file_appeal(
        bank,
        category=appeals.COMPLAINT,
        subject="Calls outside the consent's hours",
        text="The demo fintech's app calls for balances every minute at night.",
        concerns_id=fintech.participant_id,
    )
    appeals.assign(op, complaint.id, operator.id)
    appeals.change_status(op, complaint.id, appeals.WAITING, "Asked Altyn for the interaction ids")
    yield f"demo appeal {complaint.number}: a complaint waiting for a reply"

    deadlines = appeals.run_appeal_deadlines()
    yield f"demo appeals: {len(deadlines.reminded)} reminded, {len(deadlines.escalated)} escalated"
