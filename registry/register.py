"""The public register of API providers and API users.

Who may take part in the platform now: every active participant with the
role, its BIN, since when it is accredited, the number of its accreditation
certificate and its platform certificates (serials) still in force. A
blocked participant is not listed while blocked; a participant that only
registered itself is not listed until accredited. Only what identifies the
legal entity is published — never its contacts (persons' data).
"""

from __future__ import annotations

from sqlalchemy import select

from registry.accreditation_certificate import current_certificate
from registry.models import ACTIVE, IssuedCertificate, Participant
from registry.participants import ROLES
from senim import clock
from senim.database import db


class UnknownRegisterRole(ValueError):
    """The register is asked for a role that is not one."""


def register_entry(participant: Participant, now: int) -> dict:
    certificate = current_certificate(participant.id)
    in_force = db.session.scalars(
        select(IssuedCertificate)
        .where(
            IssuedCertificate.participant_id == participant.id,
            IssuedCertificate.revoked_at.is_(None),
            IssuedCertificate.not_after > now,
        )
        .order_by(IssuedCertificate.not_before, IssuedCertificate.serial)
    )
    return {
        "participant_id": participant.id,
        "name": participant.name,
        "bin": participant.bin,
        "roles": [r for r in ROLES if r in (participant.roles or [])],
        "accredited_since": participant.accredited_at,
        "accreditation_certificate_number": certificate.number if certificate else None,
        "certificates": [
            {"serial": c.serial, "purpose": c.purpose, "not_after": c.not_after} for c in in_force
        ],
    }


def public_register(role: str | None = None) -> list[dict]:
    """The register (of one role, or both), by name."""
    if role is not None and role not in ROLES:
        raise UnknownRegisterRole(f"the register lists {' or '.join(ROLES)}, not {role!r}")
    query = select(Participant).where(Participant.status == ACTIVE).order_by(Participant.name, Participant.id)
    now = clock.now_int()
    return [
        register_entry(p, now)
        for p in db.session.scalars(query)
        if p.roles and (role is None or role in p.roles)
    ]
