"""Staff sign-in: passkeys (py_webauthn against a software authenticator), TOTP, recovery codes, sessions."""

from __future__ import annotations

import json

import pyotp
import pytest

from idp import staff_login as L
from registry import staff as S
from tests.support.audit_log import AuditLines
from tests.support.passkey import Passkey, b64url, unb64url
from tests.support.staff import STAFF_ORIGIN, fintech


@pytest.fixture
def member(app) -> S.StaffMember:
    _invited, secret = S.invite(
        participant_id=fintech().id, email="dana@qarjy.kz", role="admin", invited_by=None
    )
    return S.accept_invitation(secret, "Dana Omarova")


def _register(member: S.StaffMember, passkey: Passkey | None = None, origin: str = STAFF_ORIGIN) -> Passkey:
    passkey = passkey or Passkey()
    challenge_id, options = L.registration_options(member)
    L.register_passkey(member, challenge_id, passkey.create(json.loads(options), origin), "Laptop")
    return passkey


def _sign_in(passkey: Passkey, origin: str = STAFF_ORIGIN) -> S.StaffMember:
    challenge_id, options = L.sign_in_options()
    return L.sign_in_with_passkey(challenge_id, passkey.get(json.loads(options), origin))


# -- passkeys ------------------------------------------------------------------------------------
def test_a_registered_passkey_signs_its_member_in(member):
    passkey = _register(member)
    stored = L.passkeys_of(member)
    assert [p.name for p in stored] == ["Laptop"] and stored[0].credential_id == passkey.credential_id
    assert _sign_in(passkey).id == member.id
    assert L.passkeys_of(member)[0].sign_count == 1 and L.passkeys_of(member)[0].last_used_at


def test_registration_options_ask_for_a_discoverable_user_verified_passkey_on_the_staff_origin(member):
    _register(member)
    _challenge_id, options = L.registration_options(member)
    options = json.loads(options)
    assert options["rp"] == {"id": "senim.test", "name": "Senim"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    # the user handle is the member's random id, never their address (WebAuthn §14.6.1)
    assert unb64url(options["user"]["id"]) == member.id.encode()
    assert len(options["excludeCredentials"]) == 1


def test_a_sign_in_challenge_is_used_once(member):
    passkey = _register(member)
    challenge_id, options = L.sign_in_options()
    credential = passkey.get(json.loads(options), STAFF_ORIGIN)
    L.sign_in_with_passkey(challenge_id, credential)
    with pytest.raises(L.ChallengeInvalid):
        L.sign_in_with_passkey(challenge_id, credential)


def test_an_expired_challenge_is_refused(member, clock):
    passkey = _register(member)
    challenge_id, options = L.sign_in_options()
    credential = passkey.get(json.loads(options), STAFF_ORIGIN)
    clock.advance(L.CHALLENGE_TTL)
    with pytest.raises(L.ChallengeInvalid):
        L.sign_in_with_passkey(challenge_id, credential)


def test_a_registration_challenge_does_not_sign_in(member):
    passkey = _register(member)
    challenge_id, options = L.registration_options(member)
    credential = passkey.get(
        {"rpId": "senim.test", "challenge": json.loads(options)["challenge"]}, STAFF_ORIGIN
    )
    with pytest.raises(L.ChallengeInvalid):
        L.sign_in_with_passkey(challenge_id, credential)


def test_an_answer_made_for_another_site_is_refused(member):
    passkey = _register(member)
    with AuditLines() as audit, pytest.raises(L.PasskeyRefused):
        _sign_in(passkey, origin="https://phish.example")
    assert audit.events("staff.sign_in_refused")[0]["reason"] == "InvalidAuthenticationResponse"


def test_a_passkey_registered_for_another_site_is_refused(member):
    with pytest.raises(L.PasskeyRefused):
        _register(member, origin="https://phish.example")
    assert L.passkeys_of(member) == []


def test_a_passkey_without_user_verification_is_refused(member):
    with pytest.raises(L.PasskeyRefused):
        _register(member, Passkey(verify_user=False))
    passkey = _register(member)
    passkey.verify_user = False
    with pytest.raises(L.PasskeyRefused):
        _sign_in(passkey)


def test_a_forged_signature_is_refused(member):
    passkey = _register(member)
    challenge_id, options = L.sign_in_options()
    credential = passkey.get(json.loads(options), STAFF_ORIGIN)
    signature = bytearray(unb64url(credential["response"]["signature"]))
    signature[-1] ^= 1
    credential["response"]["signature"] = b64url(bytes(signature))
    with pytest.raises(L.PasskeyRefused):
        L.sign_in_with_passkey(challenge_id, credential)


def test_an_unknown_passkey_is_refused(member):
    _register(member)
    with pytest.raises(L.PasskeyRefused, match="not registered"):
        stranger = Passkey()
        stranger.device.cred_init("senim.test", b"someone")
        _sign_in(stranger)


@pytest.mark.parametrize("credential", [None, "", "{}", {"rawId": 5}, "x" * 20000, {"rawId": "!!"}])
def test_garbage_answers_are_refused_not_crashes(member, credential):
    _register(member)
    challenge_id, _options = L.sign_in_options()
    with pytest.raises(L.SignInRefused):
        L.sign_in_with_passkey(challenge_id, credential)


def test_a_removed_member_cannot_sign_in(member):
    passkey = _register(member)
    _second, secret = S.invite(
        participant_id=member.participant_id, email="b@qarjy.kz", role="admin", invited_by=None
    )
    S.remove(S.accept_invitation(secret, "B"), member.id)
    with pytest.raises(L.SignInRefused, match="not active"):
        _sign_in(passkey)


def test_the_last_way_in_cannot_be_removed(member):
    _register(member)
    only = L.passkeys_of(member)[0]
    with pytest.raises(L.PasskeyRefused, match="only way"):
        L.remove_passkey(member, only.id)
    _register(member)
    L.remove_passkey(member, only.id)
    assert len(L.passkeys_of(member)) == 1


def test_another_members_passkey_cannot_be_removed(member):
    _register(member)
    _register(member)
    _other, secret = S.invite(
        participant_id=member.participant_id, email="b@qarjy.kz", role="admin", invited_by=None
    )
    other = S.accept_invitation(secret, "B")
    with pytest.raises(L.PasskeyRefused, match="No such passkey"):
        L.remove_passkey(other, L.passkeys_of(member)[0].id)
    assert len(L.passkeys_of(member)) == 2


# -- the authenticator app ------------------------------------------------------------------------
def _enrol(member: S.StaffMember, clock) -> pyotp.TOTP:
    uri = L.begin_totp_enrolment(member)
    totp = pyotp.parse_uri(uri)
    assert uri.startswith("otpauth://totp/Senim:dana%40qarjy.kz?") and "issuer=Senim" in uri
    L.confirm_totp_enrolment(member, totp.at(clock.now()))
    return totp


def test_totp_enrolment_is_confirmed_by_a_first_code_and_the_secret_is_sealed(member, clock):
    uri = L.begin_totp_enrolment(member)
    assert L.totp_of(member) is None
    totp = pyotp.parse_uri(uri)
    with pytest.raises(L.CodeRefused):
        L.confirm_totp_enrolment(member, "000000" if totp.at(clock.now()) != "000000" else "111111")
    L.confirm_totp_enrolment(member, totp.at(clock.now()))
    row = L.totp_of(member)
    assert row is not None and totp.secret.encode() not in row.sealed_secret


def test_a_totp_code_signs_in_once(member, clock):
    totp = _enrol(member, clock)
    clock.advance(30)
    code = totp.at(clock.now())
    assert L.sign_in_with_totp("DANA@qarjy.kz", code).id == member.id
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_totp("dana@qarjy.kz", code)


def test_the_enrolment_code_does_not_sign_in_again(member, clock):
    totp = pyotp.parse_uri(L.begin_totp_enrolment(member))
    code = totp.at(clock.now())
    L.confirm_totp_enrolment(member, code)
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_totp("dana@qarjy.kz", code)


def test_a_code_one_step_old_is_accepted_two_steps_old_is_not(member, clock):
    totp = _enrol(member, clock)
    clock.advance(90)
    assert L.sign_in_with_totp("dana@qarjy.kz", totp.at(clock.now() - 30)).id == member.id
    clock.advance(90)
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_totp("dana@qarjy.kz", totp.at(clock.now() - 60))


@pytest.mark.parametrize("email", ["nobody@qarjy.kz", "not an address"])
def test_a_code_for_an_unknown_address_is_refused_the_same_way(member, clock, email):
    totp = _enrol(member, clock)
    clock.advance(30)
    with pytest.raises(L.CodeRefused, match=r"The address or the code is wrong\."):
        L.sign_in_with_totp(email, totp.at(clock.now()))


def test_wrong_codes_pause_the_member_then_double(member, clock):
    totp = _enrol(member, clock)
    clock.advance(30)
    for _ in range(5):
        with pytest.raises(L.CodeRefused):
            L.sign_in_with_totp("dana@qarjy.kz", "12345")
    with pytest.raises(L.TooManyWrongCodes) as paused:
        L.sign_in_with_totp("dana@qarjy.kz", totp.at(clock.now()))
    assert paused.value.retry_after == 30
    clock.advance(30)
    assert L.sign_in_with_totp("dana@qarjy.kz", totp.at(clock.now())).id == member.id


def test_a_member_without_an_app_has_no_code(member, clock):
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_totp("dana@qarjy.kz", "123456")


# -- recovery codes ------------------------------------------------------------------------------------
def test_recovery_codes_sign_in_once_each_and_are_kept_hashed(member):
    codes = L.new_recovery_codes(member)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert L.sign_in_with_recovery_code("dana@qarjy.kz", codes[0].upper()).id == member.id
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_recovery_code("dana@qarjy.kz", codes[0])
    assert L.recovery_codes_left(member) == 9
    stored = {r.code_hash for r in L.db.session.scalars(L.select(L.StaffRecoveryCode))}
    assert not any(code.replace("-", "") in h for h in stored for code in codes)


def test_new_recovery_codes_replace_the_old_ones(member):
    old = L.new_recovery_codes(member)
    L.new_recovery_codes(member)
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_recovery_code("dana@qarjy.kz", old[1])


def test_a_recovery_code_is_one_members(member):
    codes = L.new_recovery_codes(member)
    _other, secret = S.invite(
        participant_id=member.participant_id, email="b@qarjy.kz", role="viewer", invited_by=None
    )
    S.accept_invitation(secret, "B")
    with pytest.raises(L.CodeRefused):
        L.sign_in_with_recovery_code("b@qarjy.kz", codes[0])


# -- sessions ------------------------------------------------------------------------------------------
def test_a_session_in_use_still_ends_after_its_maximum_length(member, clock):
    _session, secret = L.start_session(member, L.PASSKEY)
    started = clock.now()
    while clock.now() + L.IDLE_TIMEOUT - 60 < started + L.MAX_SESSION:
        clock.advance(L.IDLE_TIMEOUT - 60)
        assert L.session_of_browser(secret)[1].id == member.id
    clock.advance(started + L.MAX_SESSION - clock.now())  # used less than IDLE_TIMEOUT ago
    with pytest.raises(L.SessionInvalid):
        L.session_of_browser(secret)


def test_an_idle_session_ends(member, clock):
    _session, secret = L.start_session(member, L.PASSKEY)
    clock.advance(L.IDLE_TIMEOUT)
    with pytest.raises(L.SessionInvalid):
        L.session_of_browser(secret)


def test_signing_out_or_removal_ends_the_session(member):
    session, secret = L.start_session(member, L.PASSKEY)
    L.end_session(session)
    with pytest.raises(L.SessionInvalid):
        L.session_of_browser(secret)
    _session, secret = L.start_session(member, L.PASSKEY)
    _other, invitation = S.invite(
        participant_id=member.participant_id, email="b@qarjy.kz", role="admin", invited_by=None
    )
    S.remove(S.accept_invitation(invitation, "B"), member.id)
    with pytest.raises(L.SessionInvalid):
        L.session_of_browser(secret)


@pytest.mark.parametrize("cookie", [None, "", "x" * 200, "a-cookie-nobody-was-given"])
def test_unknown_cookies_are_no_session(member, cookie):
    with pytest.raises(L.SessionInvalid):
        L.session_of_browser(cookie)


def test_sensitive_actions_need_a_proof_from_the_last_minutes(member, clock):
    session, _secret = L.start_session(member, L.PASSKEY)
    L.require_recent_proof(session)
    clock.advance(L.REAUTH_WINDOW)
    with pytest.raises(L.ProofTooOld):
        L.require_recent_proof(session)
    L.record_proof(session, member)
    L.require_recent_proof(session)


def test_a_proof_by_another_member_does_not_count(member, clock):
    session, _secret = L.start_session(member, L.PASSKEY)
    _other, secret = S.invite(
        participant_id=member.participant_id, email="b@qarjy.kz", role="viewer", invited_by=None
    )
    other = S.accept_invitation(secret, "B")
    clock.advance(L.REAUTH_WINDOW)
    with pytest.raises(L.SignInRefused):
        L.record_proof(session, other)
    with pytest.raises(L.ProofTooOld):
        L.require_recent_proof(session)


def test_no_code_secret_or_cookie_reaches_the_audit_log(member, clock):
    with AuditLines() as audit:
        codes = L.new_recovery_codes(member)
        L.sign_in_with_recovery_code("dana@qarjy.kz", codes[0])
        uri = L.begin_totp_enrolment(member)
        totp = pyotp.parse_uri(uri)
        L.confirm_totp_enrolment(member, totp.at(clock.now()))
        _session, cookie = L.start_session(member, L.TOTP)
    text = audit.text()
    for secret in [*codes, codes[0].replace("-", ""), totp.secret, cookie]:
        assert secret not in text


def test_an_unknown_address_is_paused_like_a_known_one(member, clock):
    for address in ("dana@qarjy.kz", "nobody@qarjy.kz"):
        for _ in range(5):
            with pytest.raises(L.CodeRefused):
                L.sign_in_with_totp(address, "123456")
        with pytest.raises(L.TooManyWrongCodes):
            L.sign_in_with_totp(address, "123456")
