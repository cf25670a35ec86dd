"""The consent lifecycle: which status may follow which, who moved it, and why.

    AwaitingAuthorisation ──► Authorised ──► Revoked
            │                     └────────► Expired
            └──────────────► Rejected

Every change appends a ``ConsentStatusChange`` (when, actor, reason code);
nothing is ever deleted or rewritten. Time moves consents too, by the
``system`` actor: one not authorised within ``AUTHORISATION_WINDOW`` becomes
Rejected (``NOT_AUTHORISED_IN_TIME``), an authorised one past its expiry
becomes Expired (``EXPIRED``). ``settle`` applies those whenever a consent is
read for a decision, so no decision ever sees a stale status;
``settle_due_consents`` does the same for all of them (``senim purge``).

A change that ends a consent also puts its event in the outbox, in the same
transaction (``notifications.enqueue``): the API user is told of every
ending that was committed, and of no other.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from idp.consents.models import (
    AUTHORISED,
    AWAITING_AUTHORISATION,
    EXPIRED,
    REJECTED,
    REVOKED,
    Consent,
    ConsentStatusChange,
)
from idp.consents.notifications import enqueue
from senim import clock
from senim.audit import audit
from senim.database import db

#: The pilot's rule: a consent the customer has not authorised within an hour is rejected.
AUTHORISATION_WINDOW = 60 * 60

ACTORS = ("customer", "api_user", "operator", "system")

#: (from, to) -> the reason codes that may make that change
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (AWAITING_AUTHORISATION, AUTHORISED): ("CUSTOMER_AUTHORISED",),
    (AWAITING_AUTHORISATION, REJECTED): (
        "CUSTOMER_REJECTED",
        "API_USER_ENDED",
        "NOT_AUTHORISED_IN_TIME",
        "PARTICIPANT_BLOCKED",
    ),
    (AUTHORISED, REVOKED): ("CUSTOMER_REVOKED", "API_USER_ENDED", "OPERATOR_REVOKED", "PARTICIPANT_BLOCKED"),
    (AUTHORISED, EXPIRED): ("EXPIRED",),
}

ACTIVE_STATUSES = (AWAITING_AUTHORISATION, AUTHORISED)


class TransitionRefused(Exception):
    """The consent's status does not allow this change (or it changed meanwhile)."""

    def __init__(self, consent: Consent, to_status: str) -> None:
        super().__init__(f"consent {consent.id} is {consent.status}; it cannot become {to_status}")
        self.status = consent.status


def change_status(
    consent: Consent, to_status: str, *, actor: str, reason: str, actor_id: str | None = None
) -> ConsentStatusChange:
    """Move the consent and append the history entry (not committed: the caller's transaction)."""
    allowed = TRANSITIONS.get((consent.status, to_status), ())
    if reason not in allowed or actor not in ACTORS:
        raise TransitionRefused(consent, to_status)
    now = clock.now_int()
    change = ConsentStatusChange(
        consent_id=consent.id,
        from_status=consent.status,
        to_status=to_status,
        at=now,
        actor=actor,
        actor_id=actor_id,
        reason=reason,
    )
    consent.status = to_status
    consent.status_updated_at = now
    if to_status == AUTHORISED:
        consent.authorised_at = now
    db.session.add(change)
    enqueue(consent, change)
    return change


def record_creation(consent: Consent, client_id: str) -> None:
    db.session.add(
        ConsentStatusChange(
            consent_id=consent.id,
            from_status=None,
            to_status=consent.status,
            at=consent.created_at,
            actor="api_user",
            actor_id=client_id,
            reason="API_USER_CREATED",
        )
    )


def due_change(consent: Consent, now: int) -> tuple[str, str] | None:
    """The change time itself makes to this consent now, if any: (to status, reason)."""
    if consent.status == AWAITING_AUTHORISATION and now >= consent.created_at + AUTHORISATION_WINDOW:
        return REJECTED, "NOT_AUTHORISED_IN_TIME"
    if consent.status == AUTHORISED and now >= consent.expires_at:
        return EXPIRED, "EXPIRED"
    return None


def settle(consent: Consent) -> Consent:
    """Apply what time has done to the consent, and commit it."""
    due = due_change(consent, clock.now_int())
    if due is None:
        return consent
    to_status, reason = due
    change_status(consent, to_status, actor="system", reason=reason)
    try:
        db.session.commit()
    except StaleDataError:  # another request settled or changed it first: read what it wrote
        db.session.rollback()
        db.session.refresh(consent)
        return consent
    audit("consent.status_changed", consent_id=consent.id, status=to_status, reason=reason, actor="system")
    return consent


def settle_due_consents(limit: int = 1000) -> int:
    """Settle every consent whose status time has changed (for the periodic ``senim purge``)."""
    now = clock.now_int()
    due = db.session.scalars(
        select(Consent)
        .where(
            or_(
                (Consent.status == AWAITING_AUTHORISATION)
                & (Consent.created_at <= now - AUTHORISATION_WINDOW),
                (Consent.status == AUTHORISED) & (Consent.expires_at <= now),
            )
        )
        .limit(limit)
    ).all()
    for consent in due:
        settle(consent)
    return len(due)


def history(consent_id: str) -> list[ConsentStatusChange]:
    return list(
        db.session.scalars(
            select(ConsentStatusChange)
            .where(ConsentStatusChange.consent_id == consent_id)
            .order_by(ConsentStatusChange.id)
        )
    )
