"""Staff accounts: invitations, roles and what each role may do; the last admin stays."""

from __future__ import annotations

import pytest

from registry import staff as S
from tests.support.audit_log import AuditLines
from tests.support.staff import bank, fintech


def _active(participant_id: str | None, role: str, email: str) -> S.StaffMember:
    _member, secret = S.invite(participant_id=participant_id, email=email, role=role, invited_by=None)
    return S.accept_invitation(secret, "Dana Omarova")


def test_invitation_makes_an_invited_member_and_a_link_that_works_once(app):
    member, secret = S.invite(
        participant_id=fintech().id, email=" Dana@Qarjy.KZ ", role="admin", invited_by=None
    )
    assert (member.status, member.email) == ("invited", "dana@qarjy.kz")
    assert member.invitation_hash != secret and secret not in member.invitation_hash
    assert S.pending_invitation(secret).id == member.id
    joined = S.accept_invitation(secret, "  Dana   Omarova ")
    assert (joined.status, joined.name) == ("active", "Dana Omarova")
    with pytest.raises(S.InvitationInvalid):
        S.accept_invitation(secret, "Dana Omarova")


def test_an_invitation_expires_after_three_days(app, clock):
    _member, secret = S.invite(
        participant_id=fintech().id, email="a@qarjy.kz", role="viewer", invited_by=None
    )
    clock.advance(S.INVITATION_TTL)
    with pytest.raises(S.InvitationInvalid):
        S.pending_invitation(secret)


@pytest.mark.parametrize("secret", ["", "short", "x" * 500, "a-link-nobody-was-ever-sent-at-all-123"])
def test_unknown_invitation_links_are_refused(app, secret):
    with pytest.raises(S.InvitationInvalid):
        S.pending_invitation(secret)


@pytest.mark.parametrize(
    ("participant", "role", "email", "says"),
    [
        (True, "operator", "x@qarjy.kz", "no role 'operator' for a participant's staff"),
        (False, "admin", "x@senim.kz", "no role 'admin' for the platform's staff"),
        (True, "owner", "x@qarjy.kz", "no role 'owner'"),
        (True, "admin", "not-an-address", "not an e-mail address"),
        (True, "admin", "a@b", "not an e-mail address"),
    ],
)
def test_invitations_with_a_wrong_role_or_address_are_refused(app, participant, role, email, says):
    participant_id = fintech().id if participant else None
    with pytest.raises(S.StaffError, match=says):
        S.invite(participant_id=participant_id, email=email, role=role, invited_by=None)
    assert S.staff_of(participant_id) == []


def test_one_address_is_one_account(app):
    S.invite(participant_id=fintech().id, email="dana@qarjy.kz", role="admin", invited_by=None)
    with pytest.raises(S.StaffError, match="already has a Senim staff account"):
        S.invite(participant_id=bank().id, email="DANA@qarjy.kz", role="viewer", invited_by=None)


def test_invitation_to_an_unknown_participant_is_refused(app):
    with pytest.raises(S.StaffError, match="no participant"):
        S.invite(
            participant_id="00000000-0000-4000-8000-000000000000",
            email="a@b.kz",
            role="admin",
            invited_by=None,
        )


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (
            "admin",
            {
                "manage_staff",
                "edit_profile",
                "apply_for_accreditation",
                "manage_certificates",
                "manage_apps",
                "manage_apis",
                "see_billing",
                "set_tariffs",
                "see_reports",
                "file_appeals",
                "answer_appeals",
            },
        ),
        (
            "developer",
            {
                "manage_certificates",
                "manage_apps",
                "manage_apis",
                "see_reports",
                "file_appeals",
                "answer_appeals",
            },
        ),
        ("finance", {"see_billing", "set_tariffs", "see_reports", "file_appeals", "answer_appeals"}),
        ("viewer", {"see_reports", "file_appeals"}),
        (
            "operator",
            {
                "review_accreditation",
                "block_participants",
                "manage_operators",
                "read_audit_log",
                "set_caps",
                "close_billing_periods",
                "handle_appeals",
                "file_appeals",
                "read_aggregate_reports",
            },
        ),
        ("regulator", {"read_aggregate_reports"}),
    ],
)
def test_each_role_may_do_exactly_its_row_of_the_permission_table(app, role, allowed):
    member = _active(None if role in S.PLATFORM_ROLES else fintech().id, role, f"{role}@example.kz")
    for action in S.PERMISSIONS:
        if action in allowed:
            assert S.require_permission(member, action) is member
        else:
            with pytest.raises(S.NotPermitted, match=f"you are {role}"):
                S.require_permission(member, action)


def test_an_invited_or_removed_member_may_do_nothing(app):
    participant = fintech()
    admin = _active(participant.id, "admin", "admin@qarjy.kz")
    invited, _secret = S.invite_colleague(admin, email="new@qarjy.kz", role="admin")
    assert not any(invited.may(action) for action in S.PERMISSIONS)
    colleague = _active(participant.id, "admin", "second@qarjy.kz")
    S.remove(admin, colleague.id)
    assert not any(colleague.may(action) for action in S.PERMISSIONS)


def test_an_admin_invites_changes_and_removes_colleagues_of_their_own_participant(app):
    participant = fintech()
    admin = _active(participant.id, "admin", "admin@qarjy.kz")
    with AuditLines() as audit:
        invited, secret = S.invite_colleague(admin, email="dev@qarjy.kz", role="developer")
        assert (invited.participant_id, invited.invited_by) == (participant.id, admin.id)
        S.change_role(admin, invited.id, "viewer")
        assert S.get_member(invited.id).role == "viewer"
        S.remove(admin, invited.id)
    assert S.get_member(invited.id).status == "removed"
    assert [e["event"] for e in audit.events()] == ["staff.invited", "staff.role_changed", "staff.removed"]
    assert secret not in audit.text()


def test_a_developer_may_not_invite_or_remove(app):
    participant = fintech()
    admin = _active(participant.id, "admin", "admin@qarjy.kz")
    developer = _active(participant.id, "developer", "dev@qarjy.kz")
    with pytest.raises(S.NotPermitted, match="only admin"):
        S.invite_colleague(developer, email="x@qarjy.kz", role="admin")
    with pytest.raises(S.NotPermitted):
        S.remove(developer, admin.id)
    with pytest.raises(S.NotPermitted):
        S.change_role(developer, developer.id, "admin")
    assert S.get_member(admin.id).status == "active"


def test_another_participants_staff_is_not_found(app):
    admin = _active(fintech().id, "admin", "admin@qarjy.kz")
    stranger = _active(bank().id, "viewer", "viewer@altyn.kz")
    with pytest.raises(S.StaffError, match="no staff member"):
        S.remove(admin, stranger.id)
    with pytest.raises(S.StaffError, match="no staff member"):
        S.change_role(admin, stranger.id, "admin")
    assert S.get_member(stranger.id).status == "active"


def test_the_last_admin_can_be_neither_removed_nor_demoted(app):
    participant = fintech()
    admin = _active(participant.id, "admin", "admin@qarjy.kz")
    with pytest.raises(S.StaffError, match="last admin"):
        S.change_role(admin, admin.id, "viewer")
    with pytest.raises(S.StaffError, match="last admin"):
        S.remove(admin, admin.id)
    second = _active(participant.id, "admin", "second@qarjy.kz")
    S.remove(second, admin.id)
    assert S.get_member(admin.id).status == "removed"


def test_operators_manage_operators_and_the_last_one_stays(app):
    first = _active(None, "operator", "first@senim.kz")
    invited, _secret = S.invite_colleague(first, email="second@senim.kz", role="operator")
    assert invited.participant_id is None and invited.role == "operator"
    with pytest.raises(S.StaffError, match="last operator"):
        S.remove(first, first.id)
    participant_admin = _active(fintech().id, "admin", "admin@qarjy.kz")
    with pytest.raises(S.StaffError, match="no staff member"):
        S.remove(participant_admin, first.id)
