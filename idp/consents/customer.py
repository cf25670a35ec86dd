"""Consents as their customer sees them: the consent screen, the cabinet, withdrawal, receipts.

A customer reaches only consents bound to their own IIN (authorised by them
at some point); anything else is "not found", never "forbidden", so nobody
learns another customer's consent ids. Withdrawal is harmless to repeat: a
consent that is no longer in force stays as it is.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from idp.consents.lifecycle import change_status, history, settle
from idp.consents.models import AUTHORISED, REVOKED, Consent, ConsentStatusChange
from idp.consents.service import iso
from idp.models import Client
from registry.participants import get_participant
from senim import clock
from senim.audit import audit
from senim.database import db

RECEIPT_TYPE = "consent-receipt+jwt"


class ConsentNotFound(Exception):
    """No consent of this customer has this id."""


@dataclass(frozen=True)
class Party:
    """A participant (or, for clients registered before participants, a client) as named to customers."""

    id: str
    name: str

    @property
    def monogram(self) -> str:
        """Up to two initials, the app's mark where no logo is registered."""
        words = [w for w in self.name.replace("-", " ").split() if w[:1].isalnum()]
        return "".join(w[0] for w in words[:2]).upper() or "?"


@dataclass(frozen=True)
class ConsentSummary:
    """What a customer is shown of one consent."""

    consent: Consent
    api_user: Party
    app_name: str
    app_has_logo: bool
    banks: list[Party]  # the banks asked for, in the order asked
    kept_bank_ids: list[str]  # the banks the customer kept (all asked ones until decided)

    @property
    def kept_banks(self) -> list[Party]:
        return [bank for bank in self.banks if bank.id in self.kept_bank_ids]


def summary(consent: Consent) -> ConsentSummary:
    client = db.session.scalar(select(Client).where(Client.client_id == consent.client_id))
    app_name = client.name if client else consent.client_id
    api_user = _party(consent.participant_id) if consent.participant_id else None
    banks = [_party(bank_id) for bank_id in consent.provider_ids]
    kept = consent.authorised_provider_ids
    return ConsentSummary(
        consent=consent,
        api_user=api_user or Party(consent.client_id, app_name),
        app_name=app_name,
        app_has_logo=bool(client is not None and client.logo_png),
        banks=banks,
        kept_bank_ids=list(consent.provider_ids if kept is None else kept),
    )


def _party(participant_id: str) -> Party:
    participant = get_participant(participant_id)
    return Party(participant_id, participant.name if participant else participant_id)


def consents_of_customer(iin: str) -> list[ConsentSummary]:
    """Every consent this customer authorised, newest first, each settled (expiry applied)."""
    consents = db.session.scalars(
        select(Consent).where(Consent.customer_iin == iin).order_by(Consent.created_at.desc(), Consent.id)
    ).all()
    return [summary(settle(consent)) for consent in consents]


def customer_consent(consent_id: str, iin: str) -> Consent:
    """The customer's own consent, settled; anyone else's is ``ConsentNotFound``."""
    consent = (
        db.session.get(Consent, consent_id) if isinstance(consent_id, str) and len(consent_id) <= 36 else None
    )
    if (
        consent is None
        or consent.customer_iin is None
        or not hmac.compare_digest(consent.customer_iin.encode(), iin.encode())
    ):
        raise ConsentNotFound()
    return settle(consent)


def revoke_by_customer(consent: Consent, iin: str) -> bool:
    """The customer withdraws their consent, effective at once; False when it was no longer in force."""
    if consent.customer_iin != iin:
        raise ConsentNotFound()
    if consent.status != AUTHORISED:
        return False
    change_status(consent, REVOKED, actor="customer", reason="CUSTOMER_REVOKED")
    try:
        db.session.commit()
    except StaleDataError:  # changed meanwhile (a second click, the API user): what happened stands
        db.session.rollback()
        db.session.refresh(consent)
        return False
    audit(
        "consent.status_changed",
        consent_id=consent.id,
        status=REVOKED,
        reason="CUSTOMER_REVOKED",
        actor="customer",
    )
    return True


def masked_iin(iin: str) -> str:
    return f"{iin[:4]}******{iin[-2:]}"


def receipt_claims(consent: Consent, issuer: str) -> dict:
    """The consent receipt: what was consented to, by whom, for whom, and what has happened since."""
    view = summary(consent)
    claims = {
        "iss": issuer,
        "iat": clock.now_int(),
        "jti": str(uuid.uuid4()),
        "consent_id": consent.id,
        "status": consent.status,
        "customer": {"iin": masked_iin(consent.customer_iin or "")},
        "api_user": {"id": view.api_user.id, "name": view.api_user.name},
        "app": {"client_id": consent.client_id, "name": view.app_name},
        "permissions": list(consent.permissions),
        "banks": [{"id": bank.id, "name": bank.name} for bank in view.kept_banks],
        "purpose": consent.purpose,
        "created": iso(consent.created_at),
        "authorised": iso(consent.authorised_at),
        "expires": iso(consent.expires_at),
        "history": [_history_entry(change) for change in history(consent.id)],
    }
    if consent.transaction_from is not None:
        claims["transactions_from"] = iso(consent.transaction_from)
    if consent.transaction_to is not None:
        claims["transactions_to"] = iso(consent.transaction_to)
    return claims


def _history_entry(change: ConsentStatusChange) -> dict:
    return {"at": iso(change.at), "status": change.to_status, "by": change.actor, "reason": change.reason}
