"""Consents counted for the reports (``registry.reports``): requested, authorised and revoked
in a range of days, and active now. Counted, never listed: no customer is named."""

from __future__ import annotations

from sqlalchemy import Text, cast, func, or_, select

from idp.consents.models import AUTHORISED, REVOKED, Consent, ConsentStatusChange
from registry.reports import ConsentCounts, DayRange
from senim import clock
from senim.database import db


def _provider_in(column: object, participant_id: str) -> object:
    # The banks are a JSON list of ids; its text holds the id in quotes on SQLite and PostgreSQL alike.
    return cast(column, Text).like(f'%"{participant_id}"%')


def consent_counts(day_range: DayRange, participant_id: str | None = None) -> ConsentCounts:
    """Consents requested, authorised and revoked in the range, and active now.

    A participant's consents are those of its apps (as the API user) and
    those that include its bank (as a provider: asked for, for the requests;
    kept by the customer, for the others). Counted, never listed.
    """
    start, end = day_range.start_ms // 1000, day_range.end_ms // 1000
    asked: list = []
    kept: list = []
    if participant_id is not None:
        asked = [
            or_(Consent.participant_id == participant_id, _provider_in(Consent.provider_ids, participant_id))
        ]
        kept = [
            or_(
                Consent.participant_id == participant_id,
                _provider_in(Consent.authorised_provider_ids, participant_id),
            )
        ]

    def count(*where: object) -> int:
        return int(db.session.scalar(select(func.count()).select_from(Consent).where(*where)) or 0)

    revoked = db.session.scalar(
        select(func.count(func.distinct(ConsentStatusChange.consent_id)))
        .join(Consent, Consent.id == ConsentStatusChange.consent_id)
        .where(
            ConsentStatusChange.to_status == REVOKED,
            ConsentStatusChange.at >= start,
            ConsentStatusChange.at < end,
            *kept,
        )
    )
    return ConsentCounts(
        requested=count(Consent.created_at >= start, Consent.created_at < end, *asked),
        authorised=count(Consent.authorised_at >= start, Consent.authorised_at < end, *kept),
        revoked=int(revoked or 0),
        active=count(Consent.status == AUTHORISED, Consent.expires_at > clock.now_int(), *kept),
    )
