"""Appeals in tests: the parties (an API user, its bank, another bank), their staff, and what they link."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from idp.consents.models import AUTHORISED, Consent
from registry.participants import API_PROVIDER, API_USER, add_participant
from registry.staff import StaffMember, accept_invitation, invite
from resource_proxy.models import RoutedCall
from senim import clock
from senim.database import db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
CUSTOMER_IIN = "900101300017"
OTHER_IIN = "850202400028"


@dataclass
class Parties:
    """Qarjy (API user) calls Altyn (API provider); Dala is a bank with nothing to do with it."""

    fintech: str
    bank: str
    other_bank: str


def parties() -> Parties:
    return Parties(
        fintech=add_participant(name="Qarjy LLP", bin="150740000044", roles=[API_USER]).id,
        bank=add_participant(name="Altyn Bank", bin="990140000017", roles=[API_PROVIDER]).id,
        other_bank=add_participant(name="Dala Bank", bin="990240000080", roles=[API_PROVIDER]).id,
    )


def member(participant_id: str | None, role: str, email: str) -> StaffMember:
    """An active staff member (joined without the pages: the services' tests need no passkey)."""
    _invited, secret = invite(participant_id=participant_id, email=email, role=role, invited_by=None)
    return accept_invitation(secret, email.split("@")[0].title())


def routed_call(
    api_user_id: str, provider_id: str, interaction_id: str | None = None, **fields: object
) -> RoutedCall:
    """A metered call of the proxy, as the proxy writes it."""
    call = RoutedCall(
        at=int(clock.now() * 1000),
        api_user_id=api_user_id,
        client_id="app-1",
        provider_id=provider_id,
        api_id=None,
        endpoint="GET /accounts/{AccountId}/balances",
        status=200,
        outcome="routed",
        latency_ms=120,
        consent_id=None,
        interaction_id=interaction_id or str(uuid.uuid4()),
    )
    for name, value in fields.items():
        setattr(call, name, value)
    db.session.add(call)
    db.session.commit()
    return call


def consent(api_user_id: str, bank_id: str, customer_iin: str = CUSTOMER_IIN) -> Consent:
    """An authorised consent of ``customer_iin`` for the API user at the bank."""
    now = clock.now_int()
    row = Consent(
        id=str(uuid.uuid4()),
        client_id="app-1",
        participant_id=api_user_id,
        customer_iin=customer_iin,
        permissions=["ReadAccountsBasic"],
        provider_ids=[bank_id],
        authorised_provider_ids=[bank_id],
        purpose="Budget",
        expires_at=now + 90 * 86400,
        status=AUTHORISED,
        created_at=now,
        status_updated_at=now,
        authorised_at=now,
    )
    db.session.add(row)
    db.session.commit()
    return row
