"""Staff: the people who act for a participant in its cabinet, and the platform's operators.

A staff member belongs to one participant with one role — admin, developer,
finance or viewer — or to the platform itself with the role operator (or
regulator: the regulator's staff, who read aggregate reports and change
nothing). The first admin of a participant comes with its registration;
after that the admin invites and removes staff. Operators (and the
regulator's staff) are invited by an operator (the first operator from the
command line, ``senim staff invite-operator``).

An invitation is a one-time link (its secret is kept hashed) valid for
three days; accepting it makes the staff member, who then registers a
passkey (``idp.staff_login``). Nobody is ever deleted: a removed member
keeps its row (audit events and application histories point at it) and can
no longer sign in.

What each role may do is one table, ``PERMISSIONS``: a page or service
asks ``require_permission(member, "manage_staff")`` and gets the member
back or a ``NotPermitted`` naming the role needed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from sqlalchemy import BigInteger, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from senim import clock
from senim.audit import audit
from senim.database import db

ADMIN = "admin"
DEVELOPER = "developer"
FINANCE = "finance"
VIEWER = "viewer"
OPERATOR = "operator"
REGULATOR = "regulator"  # the regulator's staff: reads aggregate reports, changes nothing
#: The roles within a participant, most powerful first.
PARTICIPANT_ROLES = (ADMIN, DEVELOPER, FINANCE, VIEWER)
PLATFORM_ROLES = (OPERATOR, REGULATOR)

#: What each role may do: one row per action. Viewing the cabinet needs no row.
PERMISSIONS: dict[str, frozenset[str]] = {
    "manage_staff": frozenset({ADMIN}),
    "edit_profile": frozenset({ADMIN}),
    "apply_for_accreditation": frozenset({ADMIN}),
    "manage_certificates": frozenset({ADMIN, DEVELOPER}),
    "manage_apps": frozenset({ADMIN, DEVELOPER}),
    "manage_apis": frozenset({ADMIN, DEVELOPER}),
    "see_billing": frozenset({ADMIN, FINANCE}),
    "set_tariffs": frozenset({ADMIN, FINANCE}),
    "see_reports": frozenset({ADMIN, DEVELOPER, FINANCE, VIEWER}),
    "file_appeals": frozenset({ADMIN, DEVELOPER, FINANCE, VIEWER, OPERATOR}),
    "answer_appeals": frozenset({ADMIN, DEVELOPER, FINANCE}),
    # the operator console
    "review_accreditation": frozenset({OPERATOR}),
    "block_participants": frozenset({OPERATOR}),
    "manage_operators": frozenset({OPERATOR}),
    "read_audit_log": frozenset({OPERATOR}),
    "set_caps": frozenset({OPERATOR}),
    "close_billing_periods": frozenset({OPERATOR}),
    "handle_appeals": frozenset({OPERATOR}),
    # the operators and the regulator: the platform's figures, never one customer's data
    "read_aggregate_reports": frozenset({OPERATOR, REGULATOR}),
}

INVITED = "invited"
ACTIVE = "active"
REMOVED = "removed"
INVITATION_TTL = 3 * 24 * 3600
MAX_NAME = 120
MAX_EMAIL = 254
# Deliberately simple: one @, something on each side, a dot in the domain, no spaces.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


class StaffError(ValueError):
    """A staff member cannot be invited, found or changed as asked; ``str(error)`` says why."""


class NotPermitted(StaffError):
    """The staff member's role does not allow the action."""


class InvitationInvalid(StaffError):
    """No pending invitation for this link (unknown, used, withdrawn or expired)."""


class StaffMember(db.Model):
    """A person acting for a participant (or for the platform, as an operator)."""

    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # None for the platform's own operators.
    participant_id: Mapped[str | None] = mapped_column(
        ForeignKey("participants.id"), index=True, nullable=True
    )
    email: Mapped[str] = mapped_column(String(MAX_EMAIL), unique=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # "invited" | "active" | "removed"
    created_at: Mapped[int] = mapped_column(BigInteger)
    invited_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    invitation_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    invitation_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    removed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR and self.participant_id is None

    @property
    def is_regulator(self) -> bool:
        return self.role == REGULATOR and self.participant_id is None

    @property
    def is_platform(self) -> bool:
        """The platform's own staff (operators, the regulator): no participant, no cabinet."""
        return self.participant_id is None

    def may(self, action: str) -> bool:
        return self.status == ACTIVE and self.role in PERMISSIONS[action]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "status": self.status,
            "created_at": self.created_at,
        }

    def __repr__(self) -> str:
        return f"<StaffMember {self.id} {self.role} {self.status}>"


def _invitation_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """The address as staff are known by: trimmed, lower case; ``StaffError`` if it is not one."""
    email = email.strip().lower() if isinstance(email, str) else ""
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise StaffError("not an e-mail address (name@example.kz)")
    return email


def check_name(name: str) -> str:
    """A person's name as shown to colleagues (spaces tidied), or ``StaffError``."""
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not 1 <= len(name) <= MAX_NAME:
        raise StaffError(f"a name has 1 to {MAX_NAME} characters")
    return name


def _check_role_fits(participant_id: str | None, role: str) -> None:
    allowed = PARTICIPANT_ROLES if participant_id else PLATFORM_ROLES
    if role not in allowed:
        where = "a participant's staff" if participant_id else "the platform's staff"
        raise StaffError(f"no role {role!r} for {where}: roles are {', '.join(allowed)}")


# -- invitations ---------------------------------------------------------------------------------
def invite(
    *, participant_id: str | None, email: str, role: str, name: str = "", invited_by: str | None
) -> tuple[StaffMember, str]:
    """A new staff member in state ``invited`` and the secret of their invitation link.

    The secret is shown once, to whoever invites (it is kept hashed); an
    address already known is refused — one person, one account.
    """
    _check_role_fits(participant_id, role)
    email = normalise_email(email)
    if db.session.scalar(select(StaffMember.id).where(StaffMember.email == email)) is not None:
        raise StaffError(f"{email} already has a Senim staff account")
    if participant_id is not None:
        from registry.participants import get_participant

        if get_participant(participant_id) is None:
            raise StaffError(f"no participant {participant_id}")
    secret = secrets.token_urlsafe(32)
    now = clock.now_int()
    member = StaffMember(
        id=str(uuid.uuid4()),
        participant_id=participant_id,
        email=email,
        name=check_name(name) if name.strip() else email.split("@")[0],
        role=role,
        status=INVITED,
        created_at=now,
        invited_by=invited_by,
        invitation_hash=_invitation_hash(secret),
        invitation_expires_at=now + INVITATION_TTL,
    )
    db.session.add(member)
    db.session.commit()
    audit(
        "staff.invited",
        staff_id=member.id,
        participant_id=participant_id,
        role=role,
        invited_by=invited_by,
    )
    return member, secret


def pending_invitation(secret: str) -> StaffMember:
    """The invited member this link's secret names, if the invitation is still open."""
    if not isinstance(secret, str) or not 20 <= len(secret) <= 128:
        raise InvitationInvalid("this invitation link is not valid")
    member = db.session.scalar(
        select(StaffMember).where(StaffMember.invitation_hash == _invitation_hash(secret))
    )
    if member is None or member.status != INVITED or (member.invitation_expires_at or 0) <= clock.now_int():
        raise InvitationInvalid("this invitation link is not valid: it is unknown, used or expired")
    return member


def add_first_admin(participant_id: str, staff_id: str, *, email: str, name: str) -> StaffMember:
    """The admin who registers a participant (self-registration): active at once, under the
    id their new passkey was made for. Committed by the caller with the passkey (all or nothing)."""
    if not _ID.fullmatch(staff_id or ""):
        raise StaffError("not a staff member id")
    email = normalise_email(email)
    if db.session.scalar(select(StaffMember.id).where(StaffMember.email == email)) is not None:
        raise StaffError(f"{email} already has a Senim staff account")
    if staff_of(participant_id):
        raise StaffError("this participant already has staff: its admin invites colleagues")
    member = StaffMember(
        id=staff_id,
        participant_id=participant_id,
        email=email,
        name=check_name(name),
        role=ADMIN,
        status=ACTIVE,
        created_at=clock.now_int(),
        invited_by=None,
    )
    db.session.add(member)
    db.session.flush()
    return member


def accept_invitation(secret: str, name: str) -> StaffMember:
    """The invitation taken up: the member is active under ``name``; the link works once."""
    member = pending_invitation(secret)
    member.name = check_name(name)
    member.status = ACTIVE
    member.invitation_hash = None
    member.invitation_expires_at = None
    db.session.commit()
    audit("staff.joined", staff_id=member.id, participant_id=member.participant_id, role=member.role)
    return member


# -- finding -------------------------------------------------------------------------------------
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def get_member(staff_id: str) -> StaffMember | None:
    if not isinstance(staff_id, str) or not _ID.fullmatch(staff_id):
        return None
    return db.session.get(StaffMember, staff_id, populate_existing=True)


def member_by_email(email: str) -> StaffMember | None:
    try:
        email = normalise_email(email)
    except StaffError:
        return None
    return db.session.scalar(select(StaffMember).where(StaffMember.email == email))


def staff_of(participant_id: str | None) -> list[StaffMember]:
    """A participant's staff (or the operators, for None), removed ones last."""
    where = (
        StaffMember.participant_id.is_(None)
        if participant_id is None
        else StaffMember.participant_id == participant_id
    )
    members = db.session.scalars(select(StaffMember).where(where).order_by(StaffMember.created_at))
    return sorted(members, key=lambda m: (m.status == REMOVED, m.created_at))


def _require_colleague(actor: StaffMember, staff_id: str) -> StaffMember:
    member = get_member(staff_id)
    # Another participant's staff is "not found", never "not yours".
    if member is None or member.participant_id != actor.participant_id:
        raise StaffError(f"no staff member {staff_id}")
    return member


# -- permissions ------------------------------------------------------------------------------------
def require_permission(member: StaffMember, action: str) -> StaffMember:
    """The member, if their role may do ``action``; otherwise ``NotPermitted`` naming who may."""
    if action not in PERMISSIONS:
        raise ValueError(f"no action {action!r}")
    if not member.may(action):
        allowed = " or ".join(sorted(PERMISSIONS[action]))
        raise NotPermitted(f"only {allowed} may do this ({action}); you are {member.role}")
    return member


def _active_admins(participant_id: str | None, role: str) -> int:
    # The rows are locked (PostgreSQL: FOR UPDATE; SQLite serialises writers anyway): two admins
    # demoting each other at the same moment cannot both see the other one still there.
    heads = db.session.scalars(
        select(StaffMember.id)
        .where(
            StaffMember.participant_id.is_(None)
            if participant_id is None
            else StaffMember.participant_id == participant_id,
            StaffMember.role == role,
            StaffMember.status == ACTIVE,
        )
        .with_for_update()
    ).all()
    return len(heads)


def _check_keeps_a_head(member: StaffMember) -> None:
    """A participant always keeps one active admin (the platform one operator)."""
    head = ADMIN if member.participant_id else OPERATOR
    if member.role == head and member.status == ACTIVE and _active_admins(member.participant_id, head) <= 1:
        raise StaffError(f"{member.email} is the last {head}: name another {head} first")


# -- changes by an admin -------------------------------------------------------------------------
def _staff_manager(actor: StaffMember) -> StaffMember:
    return require_permission(actor, "manage_operators" if actor.is_operator else "manage_staff")


def invite_colleague(actor: StaffMember, *, email: str, role: str, name: str = "") -> tuple[StaffMember, str]:
    """An admin (or an operator, for operators) invites a colleague into their own organisation."""
    _staff_manager(actor)
    return invite(participant_id=actor.participant_id, email=email, role=role, name=name, invited_by=actor.id)


def change_role(actor: StaffMember, staff_id: str, role: str) -> StaffMember:
    _staff_manager(actor)
    member = _require_colleague(actor, staff_id)
    _check_role_fits(member.participant_id, role)
    if member.status == REMOVED:
        raise StaffError(f"{member.email} was removed")
    if member.role != role:
        _check_keeps_a_head(member)
        member.role = role
        db.session.commit()
        audit("staff.role_changed", staff_id=member.id, role=role, by=actor.id)
    return member


def remove(actor: StaffMember, staff_id: str) -> StaffMember:
    """The colleague can no longer sign in; their sessions end (``idp.staff_login`` checks status)."""
    _staff_manager(actor)
    member = _require_colleague(actor, staff_id)
    if member.status == REMOVED:
        return member
    _check_keeps_a_head(member)
    member.status = REMOVED
    member.removed_at = clock.now_int()
    member.invitation_hash = None
    db.session.commit()
    audit("staff.removed", staff_id=member.id, participant_id=member.participant_id, by=actor.id)
    return member
