"""Participants: which legal entities take part in the platform, in which role,
and whether they may act now.

Every rule about a participant lives here. The authorization server asks two
questions before it lets anything happen: is this client's API user active
(``require_active(id, API_USER)``), and is every bank a consent names an
active API provider (``active_providers(ids)``). A refusal is a
``ParticipantError`` whose message names the participant and says what is
wrong; the participant's id is also on the error, for callers that point at
the offending field.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from biometrics.errors import InvalidIIN
from biometrics.iin import iin_check_digit
from registry.models import ACTIVE, BLOCKED, REGISTERED, Participant
from senim import clock
from senim.audit import audit
from senim.database import db

API_PROVIDER = "api_provider"  # a bank serving the Open Banking API
API_USER = "api_user"  # an app calling it on behalf of customers
ROLES = (API_PROVIDER, API_USER)

#: The BIN's fifth digit: the kind of entity it was issued to.
BIN_TYPES = {
    "4": "resident legal entity",
    "5": "non-resident legal entity",
    "6": "individual entrepreneur in joint entrepreneurship",
}
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
# Ids are made here as str(uuid4()); anything else cannot be one, and is not
# sent to the database (PostgreSQL refuses NUL bytes, for one).
_PARTICIPANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_NAME = 200
MAX_REASON = 200
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets
MAX_DESCRIPTION = 1000
# One "@", no spaces, a dot in the domain: enough to catch typing errors; the
# address is proved by writing to it, not by a pattern.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
# E.164 (ITU-T): "+", country code, up to 15 digits in all; spaces, dashes and
# brackets as people type them are dropped.
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


class ParticipantError(ValueError):
    """A participant cannot be added, found or used as asked; ``str(error)`` says why.

    ``participant_id`` is the id the refusal is about, when there is one.
    """

    def __init__(self, message: str, participant_id: str | None = None) -> None:
        super().__init__(message)
        self.participant_id = participant_id


class InvalidBIN(ParticipantError):
    """Not a valid Kazakhstan business identification number."""


class UnknownParticipant(ParticipantError):
    """No participant has this id."""


class ParticipantBlocked(ParticipantError):
    """The participant exists but is blocked: it may not act until unblocked."""


class WrongRole(ParticipantError):
    """The participant does not have the role asked for (a fintech named as a bank, say)."""


class DuplicateParticipant(ParticipantError):
    """A participant with this BIN is already registered."""


class ParticipantNotAccredited(ParticipantError):
    """The participant registered itself but is not accredited yet: it may not act."""


class InvalidProfile(ParticipantError):
    """A profile field (contact e-mail, phone, description) is not acceptable."""


# -- the BIN --------------------------------------------------------------------------
def validate_bin(text: str) -> str:
    """The BIN in ``text`` (surrounding spaces ignored), or ``InvalidBIN`` saying what is wrong.

    A BIN (business identification number, БСН/БИН) has twelve digits:
    ``YYMM T A SSSSS K`` — year and month of registration, the type of entity
    (4 resident legal entity, 5 non-resident legal entity, 6 individual
    entrepreneur in joint entrepreneurship), its attribute (head office,
    branch, representative office…), a serial number and a check digit
    computed exactly as the IIN's (``biometrics.iin``).
    """
    if not isinstance(text, str):
        raise InvalidBIN("a BIN is text of 12 digits")
    bin_ = text.strip()
    if not bin_:
        raise InvalidBIN("no BIN given: a BIN has 12 digits")
    if not _TWELVE_DIGITS.fullmatch(bin_):
        if not bin_.isascii() or not bin_.isdigit():
            raise InvalidBIN("a BIN has digits only (12 digits)")
        raise InvalidBIN(f"a BIN has 12 digits, this one has {len(bin_)}")
    if bin_[4] not in BIN_TYPES:
        raise InvalidBIN(
            f"BIN {bin_}: the 5th digit (type of entity) must be 4, 5 or 6, not {bin_[4]}"
            " (is it an IIN of a person?)"
        )
    try:
        expected = iin_check_digit(bin_[:11])
    except InvalidIIN:
        raise InvalidBIN(f"BIN {bin_}: no valid check digit exists for its first eleven digits") from None
    if int(bin_[11]) != expected:
        raise InvalidBIN(f"BIN {bin_}: wrong check digit (a typing error?)")
    return bin_


# -- adding and finding ---------------------------------------------------------------------
def _validate_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= MAX_NAME:
        raise ParticipantError(f"a participant's name must have 1 to {MAX_NAME} characters")
    return name


def _validate_roles(roles: list[str]) -> list[str]:
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        raise ParticipantError(f"roles must be a list of {' and/or '.join(ROLES)}")
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ParticipantError(f"unknown role {', '.join(unknown)}: roles are {' and/or '.join(ROLES)}")
    if not roles:
        raise ParticipantError(f"a participant needs at least one role: {' and/or '.join(ROLES)}")
    return roles


def validate_contact_email(text: str) -> str:
    """A contact e-mail address as typed (spaces around dropped), or ``InvalidProfile``."""
    email = text.strip() if isinstance(text, str) else ""
    if not 3 <= len(email) <= MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise InvalidProfile("the contact e-mail is not an e-mail address (name@example.kz)")
    return email


def validate_contact_phone(text: str) -> str:
    """A contact phone in international form (+77011234567), or ``InvalidProfile``."""
    raw = text if isinstance(text, str) else ""
    phone = re.sub(r"[\s()\-]", "", raw)
    if phone.startswith("8") and len(phone) == 11:  # the Kazakh trunk prefix: 8 701 ... is +7 701 ...
        phone = "+7" + phone[1:]
    if not _PHONE.fullmatch(phone):
        raise InvalidProfile(
            "the contact phone is not a phone number in international form (+7 701 234 56 78)"
        )
    return phone


def validate_description(text: str | None) -> str | None:
    """The participant's description (plain text, up to ``MAX_DESCRIPTION`` characters), or None."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidProfile("the description is text")
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidProfile(
            f"the description has at most {MAX_DESCRIPTION} characters, this one {len(text)}"
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidProfile("the description has control characters")
    return text or None


def _check_bin_free(bin_: str) -> None:
    if db.session.scalar(select(Participant.id).where(Participant.bin == bin_)) is not None:
        raise DuplicateParticipant(f"a participant with BIN {bin_} is already registered")


def _insert(participant: Participant, *, commit: bool = True) -> Participant:
    _check_bin_free(participant.bin)
    db.session.add(participant)
    try:
        db.session.commit() if commit else db.session.flush()
    except IntegrityError:  # the same BIN added in parallel
        db.session.rollback()
        raise DuplicateParticipant(
            f"a participant with BIN {participant.bin} is already registered"
        ) from None
    return participant


def add_participant(*, name: str, bin: str, roles: list[str]) -> Participant:
    """Register a legal entity as an active participant with these roles (an operator's act)."""
    name = _validate_name(name)
    bin_ = validate_bin(bin)
    roles = _validate_roles(roles)
    now = clock.now_int()
    participant = _insert(
        Participant(
            id=str(uuid.uuid4()),
            name=name,
            bin=bin_,
            roles=roles,
            status=ACTIVE,
            created_at=now,
            accredited_at=now,  # an operator's act is the accreditation
        )
    )
    # A legal entity's BIN is public, not personal data.
    audit("participant.added", participant_id=participant.id, bin=bin_, roles=roles)
    return participant


def check_new_participant(
    *, name: str, bin: str, contact_email: str, contact_phone: str, description: str | None = None
) -> None:
    """What ``register_participant`` would refuse, refused without storing anything (a sign-up
    page checks the form before the admin creates a passkey)."""
    _validate_name(name)
    _check_bin_free(validate_bin(bin))
    validate_contact_email(contact_email)
    validate_contact_phone(contact_phone)
    validate_description(description)


def register_participant(
    *,
    name: str,
    bin: str,
    contact_email: str,
    contact_phone: str,
    description: str | None = None,
    commit: bool = True,
) -> Participant:
    """A legal entity registers itself: status ``registered``, no roles, may not act until accredited
    (``registry.accreditation``). With ``commit=False`` the caller commits it together with its
    first admin (all or nothing)."""
    participant = Participant(
        id=str(uuid.uuid4()),
        name=_validate_name(name),
        bin=validate_bin(bin),
        roles=[],
        status=REGISTERED,
        created_at=clock.now_int(),
        contact_email=validate_contact_email(contact_email),
        contact_phone=validate_contact_phone(contact_phone),
        description=validate_description(description),
    )
    _insert(participant, commit=commit)
    if commit:  # otherwise the caller audits once it has committed
        # Contacts are a person's data: the log has the participant's id and BIN only.
        audit("participant.registered", participant_id=participant.id, bin=participant.bin)
    return participant


_UNCHANGED = object()


def update_profile(
    participant_id: str,
    *,
    name: str | None = None,
    contact_email: str | None = None,
    contact_phone: str | None = None,
    description: str | object | None = _UNCHANGED,
) -> Participant:
    """Change the fields given (None: left as it is; ``description=None`` clears it); all or none.

    The BIN never changes: a new BIN is a new legal entity.
    """
    participant = _check_known(get_participant(participant_id), participant_id)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _validate_name(name)
    if contact_email is not None:
        changes["contact_email"] = validate_contact_email(contact_email)
    if contact_phone is not None:
        changes["contact_phone"] = validate_contact_phone(contact_phone)
    if description is not _UNCHANGED:
        changes["description"] = validate_description(description)  # type: ignore[arg-type]
    for field, value in changes.items():
        setattr(participant, field, value)
    db.session.commit()
    audit("participant.profile_updated", participant_id=participant.id, fields=sorted(changes))
    return participant


def get_participant(participant_id: str) -> Participant | None:
    """The participant with this id, or None (for any string that is not one's id).

    Read afresh from the database, so that a block made elsewhere counts at once.
    """
    if not isinstance(participant_id, str) or not _PARTICIPANT_ID.fullmatch(participant_id):
        return None
    return db.session.get(Participant, participant_id, populate_existing=True)


def require_participant(participant_id: str) -> Participant:
    """The participant with this id, whatever its state, or ``UnknownParticipant``."""
    return _check_known(get_participant(participant_id), participant_id)


def list_participants() -> list[Participant]:
    """Every participant, by name."""
    return list(db.session.scalars(select(Participant).order_by(Participant.name, Participant.id)))


# -- may it act? (each rule one check, in the order they are applied) ------------------------
_ROLE_NAMES = {API_PROVIDER: "an API provider", API_USER: "an API user"}


def _check_known(participant: Participant | None, participant_id: str) -> Participant:
    if participant is None:
        raise UnknownParticipant(f"no participant {participant_id}", participant_id)
    return participant


def _check_has_role(participant: Participant, role: str) -> None:
    if role not in (participant.roles or []):
        raise WrongRole(
            f"participant {participant.id} is not {_ROLE_NAMES[role]} ({role});"
            f" its roles: {', '.join(participant.roles or []) or 'none'}",
            participant.id,
        )


def _check_not_blocked(participant: Participant) -> None:
    # The reason stays with the operator: this message may reach other participants.
    if participant.status == BLOCKED:
        raise ParticipantBlocked(f"participant {participant.id} is blocked", participant.id)
    if participant.status != ACTIVE:
        raise ParticipantNotAccredited(f"participant {participant.id} is not accredited yet", participant.id)


def _check_role_asked(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"no role {role!r}: roles are {' and/or '.join(ROLES)}")


def require_active(participant_id: str, role: str) -> Participant:
    """The participant, if it exists, has ``role`` and is not blocked; otherwise the refusal."""
    _check_role_asked(role)
    participant = _check_known(get_participant(participant_id), participant_id)
    _check_has_role(participant, role)
    _check_not_blocked(participant)
    return participant


def active_providers(ids: list[str]) -> list[Participant]:
    """The participants of ``ids``, in that order, if every one is an active API provider.

    Otherwise the refusal about the first one that is not. One query for all.
    """
    wellformed = [i for i in ids if isinstance(i, str) and _PARTICIPANT_ID.fullmatch(i)]
    found: dict[str, Participant] = {}
    if wellformed:
        query = select(Participant).where(Participant.id.in_(wellformed))
        found = {p.id: p for p in db.session.scalars(query.execution_options(populate_existing=True))}
    providers = []
    for participant_id in ids:
        participant = _check_known(found.get(participant_id), participant_id)
        _check_has_role(participant, API_PROVIDER)
        _check_not_blocked(participant)
        providers.append(participant)
    return providers


# -- blocking ----------------------------------------------------------------------------------
def block_participant(participant_id: str, reason: str) -> Participant:
    """Stop a participant from acting: its clients' tokens, consents, pushed requests and calls are
    refused, no consent may name it, it gets no certificate (``docs/registry.md``: what is refused).

    Blocking a blocked participant changes nothing (the first block's time and
    reason stay).
    """
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 1 <= len(reason) <= MAX_REASON:
        raise ParticipantError(f"the reason for a block must have 1 to {MAX_REASON} characters")
    participant = _check_known(get_participant(participant_id), participant_id)
    if participant.status == BLOCKED:
        return participant
    participant.status = BLOCKED
    participant.status_changed_at = clock.now_int()
    participant.status_reason = reason
    db.session.commit()
    # The reason is free text an operator typed: it stays in the table, not in the log.
    audit("participant.blocked", participant_id=participant.id)
    return participant


def status_after_unblock(participant: Participant) -> str:
    """What a participant is when not blocked: active once it has roles (accredited or added by an
    operator), registered before. Roles are never taken away, so this restores the state it had."""
    return ACTIVE if participant.roles else REGISTERED


def unblock_participant(participant_id: str) -> Participant:
    """Let a blocked participant act again (or, if it was only registered, apply again);
    a participant that is not blocked is left as it is."""
    participant = _check_known(get_participant(participant_id), participant_id)
    if participant.status != BLOCKED:
        return participant
    participant.status = status_after_unblock(participant)
    participant.status_changed_at = clock.now_int()
    participant.status_reason = None
    db.session.commit()
    audit("participant.unblocked", participant_id=participant.id)
    return participant
