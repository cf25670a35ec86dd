"""The staff pages: joining with a passkey, signing in, security, staff, the operator console."""

from __future__ import annotations

import re

import pyotp
import pytest

from idp import staff_login as L
from registry import staff as S
from registry.participants import get_participant
from tests.support.passkey import Passkey
from tests.support.staff import STAFF_ORIGIN, bank, fintech, join, joined, operator, staff_browser


def _browser(app):
    return staff_browser(app)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


# -- joining -------------------------------------------------------------------------------------
def test_joining_with_a_passkey_signs_in_and_shows_recovery_codes_once(app):
    participant = fintech()
    member, secret = S.invite(
        participant_id=participant.id, email="dana@qarjy.kz", role="admin", invited_by=None
    )
    browser = _browser(app)
    page = browser.get(f"/registry/join/{secret}").get_data(as_text=True)
    assert "Join Qarjy LLP on Senim" in page and "dana@qarjy.kz" in page
    answer, _passkey = join(browser, secret, name="Dana Omarova")
    assert answer.status_code == 200 and answer.get_json() == {
        "next": "/registry/security/recovery-codes/first"
    }
    assert "HttpOnly" in answer.headers["Set-Cookie"] and "SameSite=Strict" in answer.headers["Set-Cookie"]
    codes_page = browser.get("/registry/security/recovery-codes/first")
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", codes_page.get_data(as_text=True))
    assert len(codes) == 10
    assert browser.get("/registry/security/recovery-codes/first").status_code == 303  # never shown again
    assert S.get_member(member.id).status == "active" and S.get_member(member.id).name == "Dana Omarova"
    cabinet = browser.get("/registry/cabinet").get_data(as_text=True)
    assert "Qarjy LLP" in cabinet and participant.bin in cabinet


def test_an_invitation_link_works_once(app):
    _member, secret = S.invite(
        participant_id=fintech().id, email="dana@qarjy.kz", role="admin", invited_by=None
    )
    join(_browser(app), secret)
    assert _browser(app).get(f"/registry/join/{secret}").status_code == 404


def test_joining_without_a_valid_passkey_changes_nothing(app):
    member, secret = S.invite(
        participant_id=fintech().id, email="dana@qarjy.kz", role="admin", invited_by=None
    )
    answer, _passkey = join(_browser(app), secret, passkey=Passkey(verify_user=False))
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_request"
    assert S.get_member(member.id).status == "invited" and L.passkeys_of(S.get_member(member.id)) == []
    assert S.pending_invitation(secret).id == member.id


def test_joining_with_an_empty_name_changes_nothing(app):
    member, secret = S.invite(
        participant_id=fintech().id, email="dana@qarjy.kz", role="admin", invited_by=None
    )
    answer, _passkey = join(_browser(app), secret, name="   ")
    assert answer.status_code == 400 and "name" in answer.get_json()["error_description"]
    assert L.passkeys_of(S.get_member(member.id)) == []


# -- signing in -------------------------------------------------------------------------------------
def test_sign_in_with_a_passkey_lands_staff_in_the_cabinet_and_operators_in_the_console(app):
    participant_admin = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    for staff, landing in ((participant_admin, "/registry/cabinet"), (operator(app), "/registry/console")):
        staff.http = _browser(app)
        assert staff.http.get("/registry/").headers["Location"].endswith("/registry/sign-in")
        staff.sign_in_with_passkey()
        assert staff.http.get("/registry/").headers["Location"] == landing


def test_sign_in_with_an_authenticator_code_and_a_recovery_code(app, clock):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    member = S.get_member(staff.id)
    totp = pyotp.parse_uri(L.begin_totp_enrolment(member))
    L.confirm_totp_enrolment(member, totp.at(clock.now()))
    codes = L.new_recovery_codes(member)
    clock.advance(30)
    for kind, code in (("totp", totp.at(clock.now())), ("recovery", codes[3])):
        browser = _browser(app)
        csrf = _csrf(browser.get("/registry/sign-in").get_data(as_text=True))
        answer = browser.post(
            "/registry/sign-in/code",
            data={
                "csrf_token": csrf,
                "email": "dana@qarjy.kz",
                "code": code,
                "kind": kind,
                "next": "/registry/staff",
            },
        )
        assert answer.status_code == 303 and answer.headers["Location"] == "/registry/staff"
        assert browser.get("/registry/staff").status_code == 200


def test_a_wrong_code_shows_the_form_again_and_signs_no_one_in(app):
    joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    browser = _browser(app)
    csrf = _csrf(browser.get("/registry/sign-in").get_data(as_text=True))
    answer = browser.post(
        "/registry/sign-in/code", data={"csrf_token": csrf, "email": "dana@qarjy.kz", "code": "123456"}
    )
    assert answer.status_code == 400 and "The address or the code is wrong." in answer.get_data(as_text=True)
    assert "Set-Cookie" not in answer.headers or L.STAFF_COOKIE not in answer.headers["Set-Cookie"]
    assert browser.get("/registry/cabinet").status_code == 303


@pytest.mark.parametrize(
    "target", ["https://evil.example/registry", "//evil.example/x", "/cabinet", "/registry\\x"]
)
def test_sign_in_never_sends_the_browser_off_the_staff_pages(app, target):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    staff.http = _browser(app)
    csrf = _csrf(staff.http.get("/registry/sign-in").get_data(as_text=True))
    headers = {"X-CSRFToken": csrf}
    options = staff.http.post("/registry/sign-in/passkey/options", json={}, headers=headers).get_json()
    credential = staff.passkey.get(options["publicKey"], STAFF_ORIGIN)
    answer = staff.http.post(
        "/registry/sign-in/passkey",
        json={"challenge_id": options["challenge_id"], "credential": credential, "next": target},
        headers=headers,
    )
    assert answer.get_json() == {"next": "/registry/cabinet"}


def test_posts_without_the_csrf_token_are_refused(app):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    assert staff.http.post("/registry/sign-in/passkey/options", json={}).status_code == 400
    answer = staff.http.post("/registry/staff/invite", data={"email": "x@qarjy.kz", "role": "admin"})
    assert answer.status_code == 400
    assert S.member_by_email("x@qarjy.kz") is None


def test_pages_opened_at_another_address_are_sent_to_the_staff_origin(app):
    browser = app.test_client()
    answer = browser.get("/registry/sign-in?lang=kk", base_url="http://127.0.0.1:8000")
    assert (
        answer.status_code == 303 and answer.headers["Location"] == f"{STAFF_ORIGIN}/registry/sign-in?lang=kk"
    )
    assert browser.post("/registry/sign-in/code", base_url="http://127.0.0.1:8000").status_code == 400


def test_signing_out_ends_the_session(app):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    assert staff.post_form("/registry/sign-out").status_code == 303
    assert staff.http.get("/registry/cabinet").status_code == 303


def test_pages_say_which_language_they_are_in(app):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    for lang in ("kk", "ru", "en"):
        page = staff.http.get(f"/registry/cabinet?lang={lang}").get_data(as_text=True)
        assert f'<html lang="{lang}">' in page


# -- security ----------------------------------------------------------------------------------------
def test_adding_a_second_passkey_then_removing_the_first(app):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    options = staff.post_json("/registry/security/passkeys/options").get_json()
    second = Passkey()
    credential = second.create(options["publicKey"], STAFF_ORIGIN)
    answer = staff.post_json(
        "/registry/security/passkeys",
        {"challenge_id": options["challenge_id"], "credential": credential, "passkey_name": "Phone"},
    )
    assert answer.get_json() == {"next": "/registry/security"}
    member = S.get_member(staff.id)
    first = L.passkeys_of(member)[0]
    staff.post_form(f"/registry/security/passkeys/{first.id}/remove")
    assert [p.name for p in L.passkeys_of(member)] == ["Phone"]
    staff.passkey = second
    staff.http = _browser(app)
    staff.sign_in_with_passkey()


def test_setting_up_the_authenticator_app_from_the_qr_page(app, clock):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    page = staff.post_form("/registry/security/totp").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    code = pyotp.TOTP(secret).at(clock.now())
    staff.post_form("/registry/security/totp/confirm", {"code": code})
    assert L.totp_of(S.get_member(staff.id)) is not None
    assert "Set up on" in staff.http.get("/registry/security").get_data(as_text=True)


def test_sensitive_actions_after_five_minutes_ask_to_confirm_first(app, clock):
    staff = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    clock.advance(L.REAUTH_WINDOW)
    answer = staff.post_form(
        "/registry/staff/invite", {"email": "dev@qarjy.kz", "role": "developer"}, "/registry/staff"
    )
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/registry/confirm?next=")
    assert S.member_by_email("dev@qarjy.kz") is None
    staff.sign_in_with_passkey()  # confirms, in the signed-in session
    answer = staff.post_form(
        "/registry/staff/invite", {"email": "dev@qarjy.kz", "role": "developer"}, "/registry/staff"
    )
    assert answer.status_code == 200 and S.member_by_email("dev@qarjy.kz").status == "invited"


def test_confirming_with_another_members_passkey_does_not_count(app, clock):
    participant = fintech()
    staff = joined(app, participant_id=participant.id, role="admin", email="dana@qarjy.kz")
    other = joined(app, participant_id=participant.id, role="viewer", email="viewer@qarjy.kz")
    clock.advance(L.REAUTH_WINDOW)
    headers = {"X-CSRFToken": staff.csrf()}
    options = staff.http.post("/registry/sign-in/passkey/options", json={}, headers=headers).get_json()
    credential = other.passkey.get(options["publicKey"], STAFF_ORIGIN)
    answer = staff.http.post(
        "/registry/confirm/passkey",
        json={"challenge_id": options["challenge_id"], "credential": credential},
        headers=headers,
    )
    assert answer.status_code == 400
    invite = staff.post_form(
        "/registry/staff/invite", {"email": "dev@qarjy.kz", "role": "developer"}, "/registry/staff"
    )
    assert invite.status_code == 303 and S.member_by_email("dev@qarjy.kz") is None


# -- staff --------------------------------------------------------------------------------------------
def test_an_admin_invites_a_colleague_who_joins_with_the_link_shown(app):
    participant = fintech()
    admin = joined(app, participant_id=participant.id, role="admin", email="dana@qarjy.kz")
    page = admin.post_form(
        "/registry/staff/invite",
        {"email": "dev@qarjy.kz", "role": "developer", "name": "Arman"},
        "/registry/staff",
    ).get_data(as_text=True)
    link = re.search(r'<code class="invitation-link">([^<]+)</code>', page).group(1)
    assert link.startswith(f"{STAFF_ORIGIN}/registry/join/")
    answer, _passkey = join(_browser(app), link.rsplit("/", 1)[1], name="Arman Abenov")
    assert answer.status_code == 200
    developer = S.member_by_email("dev@qarjy.kz")
    assert (developer.participant_id, developer.role, developer.status) == (
        participant.id,
        "developer",
        "active",
    )


def test_a_viewer_sees_the_staff_but_may_not_invite(app):
    participant = fintech()
    joined(app, participant_id=participant.id, role="admin", email="dana@qarjy.kz")
    viewer = joined(app, participant_id=participant.id, role="viewer", email="viewer@qarjy.kz")
    page = viewer.http.get("/registry/staff").get_data(as_text=True)
    assert "dana@qarjy.kz" in page and "Invite a colleague" not in page
    answer = viewer.post_form(
        "/registry/staff/invite", {"email": "x@qarjy.kz", "role": "admin"}, "/registry/staff"
    )
    assert answer.status_code == 403 and S.member_by_email("x@qarjy.kz") is None


def test_an_admin_cannot_touch_another_participants_staff(app):
    admin = joined(app, participant_id=fintech().id, role="admin", email="dana@qarjy.kz")
    stranger = joined(app, participant_id=bank().id, role="viewer", email="viewer@altyn.kz")
    admin.post_form(f"/registry/staff/{stranger.id}/remove", csrf_from="/registry/staff")
    assert S.get_member(stranger.id).status == "active"
    assert "viewer@altyn.kz" not in admin.http.get("/registry/staff").get_data(as_text=True)


def test_a_removed_colleague_is_signed_out_at_once(app):
    participant = fintech()
    admin = joined(app, participant_id=participant.id, role="admin", email="dana@qarjy.kz")
    developer = joined(app, participant_id=participant.id, role="developer", email="dev@qarjy.kz")
    admin.post_form(f"/registry/staff/{developer.id}/remove", csrf_from="/registry/staff")
    assert developer.http.get("/registry/cabinet").status_code == 303


# -- the operator console -----------------------------------------------------------------------------
def test_an_operator_blocks_and_unblocks_a_participant(app):
    participant = fintech()
    staff = operator(app)
    page = staff.http.get("/registry/console").get_data(as_text=True)
    assert "Qarjy LLP" in page
    staff.post_form(
        f"/registry/console/participants/{participant.id}/block",
        {"reason": "licence suspended"},
        "/registry/console",
    )
    assert get_participant(participant.id).status == "blocked"
    assert "licence suspended" in staff.http.get("/registry/console").get_data(as_text=True)
    staff.post_form(f"/registry/console/participants/{participant.id}/unblock", csrf_from="/registry/console")
    assert get_participant(participant.id).status == "active"


def test_blocking_needs_a_reason_and_a_fresh_proof(app, clock):
    participant = fintech()
    staff = operator(app)
    staff.post_form(
        f"/registry/console/participants/{participant.id}/block", {"reason": ""}, "/registry/console"
    )
    assert get_participant(participant.id).status == "active"
    clock.advance(L.REAUTH_WINDOW)
    answer = staff.post_form(
        f"/registry/console/participants/{participant.id}/block", {"reason": "fraud"}, "/registry/console"
    )
    assert answer.headers["Location"].startswith("/registry/confirm")
    assert get_participant(participant.id).status == "active"


def test_the_console_does_not_exist_for_a_participants_staff(app):
    participant = fintech()
    admin = joined(app, participant_id=participant.id, role="admin", email="dana@qarjy.kz")
    assert admin.http.get("/registry/console").status_code == 404
    answer = admin.post_form(f"/registry/console/participants/{participant.id}/block", {"reason": "x"})
    assert answer.status_code == 404 and get_participant(participant.id).status == "active"


def test_staff_pages_need_a_session(app):
    browser = _browser(app)
    for path in ("/registry/cabinet", "/registry/staff", "/registry/security", "/registry/console"):
        answer = browser.get(path)
        assert answer.status_code == 303 and answer.headers["Location"].startswith("/registry/sign-in")


def test_staff_pages_run_under_a_strict_content_security_policy(app):
    answer = _browser(app).get("/registry/sign-in")
    policy = answer.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    )
    assert answer.headers["Cache-Control"] == "no-store"


def test_every_refusal_of_the_staff_sign_in_has_words_in_the_pages_languages():
    import inspect

    from consent_ui.staff_pages import STAFF_LOGIN_WORDS

    source = inspect.getsource(L)
    said = set(re.findall(r'(?:Refused|Invalid)\(\s*"([^"]+)"', source))
    said |= {f"At most {L.MAX_PASSKEYS} passkeys: remove one first."}
    assert said and said <= set(STAFF_LOGIN_WORDS)


def test_recovery_codes_are_never_made_without_a_fresh_proof(app, clock):
    from registry.staff import invite

    _member, secret = invite(
        participant_id=fintech().id, email="late@qarjy.kz", role="admin", invited_by=None
    )
    browser = _browser(app)
    join(browser, secret)
    clock.advance(L.REAUTH_WINDOW)  # the tab was closed after joining; the session is still open
    answer = browser.get("/registry/security/recovery-codes/first")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/registry/confirm")
    assert L.recovery_codes_left(S.member_by_email("late@qarjy.kz")) == 0
