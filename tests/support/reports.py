"""Metered calls and consents as the reports read them, inserted directly (no proxy, no customer)."""

from __future__ import annotations

import datetime
import itertools
import uuid

from idp.consents.models import Consent, ConsentStatusChange
from resource_proxy.models import RoutedCall
from senim.database import db

KZ = datetime.timezone(datetime.timedelta(hours=5))
_ids = itertools.count(1)


def kz_ms(text: str) -> int:
    """``"2025-03-10 00:00"`` in Kazakhstan time as epoch milliseconds."""
    moment = datetime.datetime.fromisoformat(text).replace(tzinfo=KZ)
    return int(moment.timestamp() * 1000)


def call(
    at_ms: int,
    *,
    api_user_id: str,
    provider_id: str | None,
    api_id: str | None = None,
    endpoint: str = "GET /accounts",
    status: int = 200,
    outcome: str = "routed",
    latency_ms: int = 100,
) -> RoutedCall:
    """One metered call, committed."""
    row = RoutedCall(
        at=at_ms,
        api_user_id=api_user_id,
        client_id="app-1",
        provider_id=provider_id,
        api_id=api_id,
        endpoint=endpoint,
        status=status,
        outcome=outcome,
        latency_ms=latency_ms,
        consent_id=None,
        interaction_id=f"interaction-{next(_ids)}",
    )
    db.session.add(row)
    db.session.commit()
    return row


def consent(
    *,
    api_user_id: str,
    banks: list[str],
    created_s: int,
    status: str = "AwaitingAuthorisation",
    authorised_s: int | None = None,
    kept: list[str] | None = None,
    expires_s: int,
    revoked_s: int | None = None,
) -> Consent:
    """A consent row (no customer's IIN: the reports never read one), with its revocation if any."""
    row = Consent(
        id=str(uuid.uuid4()),
        client_id="app-1",
        participant_id=api_user_id,
        customer_iin=None,
        permissions=["ReadAccountsBasic"],
        provider_ids=banks,
        authorised_provider_ids=kept,
        purpose="Budgeting",
        expires_at=expires_s,
        status=status,
        created_at=created_s,
        status_updated_at=revoked_s or authorised_s or created_s,
        authorised_at=authorised_s,
    )
    db.session.add(row)
    db.session.flush()
    if revoked_s is not None:
        db.session.add(
            ConsentStatusChange(
                consent_id=row.id,
                from_status="Authorised",
                to_status="Revoked",
                at=revoked_s,
                actor="customer",
                actor_id=None,
                reason="customer_revoked",
            )
        )
    db.session.commit()
    return row
