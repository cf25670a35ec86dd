"""How staff sign in: passkeys (WebAuthn), an authenticator app's codes (TOTP), recovery codes.

Participants' staff and the platform's operators sign in the same way:

- **passkey** (W3C WebAuthn Level 3, verified by ``py_webauthn``): the
  first way in, registered when an invitation is accepted; user
  verification is required (the authenticator checked a PIN or biometric),
  so a passkey alone is two factors. Sign-in uses discoverable credentials:
  the page asks for "any passkey of this site" and the credential names its
  owner — no address to type, nothing to enumerate.
- **authenticator app** (TOTP, RFC 6238, ``pyotp``): a second way in,
  enrolled from a QR code and confirmed with a first code; the secret is
  sealed at rest (AES-256-GCM); a code is accepted once (§5.2: the time
  step of the last accepted code is kept) and one step of clock drift is
  allowed either way.
- **recovery codes**: ten one-time codes shown once, kept hashed, for a
  lost phone and lost passkey.

Every challenge the server issues is stored and consumed exactly once. Wrong
codes are throttled per staff member (``biometrics.lockout.delay_after``'s
doubling pauses). A staff session is a random cookie whose hash is kept; it
ends after ``IDLE_TIMEOUT`` without use or ``MAX_SESSION`` in all, when the
member signs out or is removed. Sensitive actions ask for a fresh proof when
the last one is older than ``REAUTH_WINDOW`` (``require_recent_proof``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
from flask import current_app
from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, select, update
from sqlalchemy.orm import Mapped, mapped_column
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from biometrics.lockout import delay_after
from biometrics.sealing import seal, unseal
from idp.models import secret_hash
from registry.staff import ACTIVE, INVITED, StaffMember, get_member, member_by_email
from senim import clock
from senim.audit import audit
from senim.database import db

CHALLENGE_TTL = 180
IDLE_TIMEOUT = 30 * 60
MAX_SESSION = 12 * 3600
REAUTH_WINDOW = 5 * 60
RECOVERY_CODES = 10
TOTP_DIGITS = 6
TOTP_ISSUER = "Senim"
MAX_PASSKEYS = 10
MAX_CREDENTIAL_JSON = 16 * 1024
STAFF_COOKIE = "senim_staff"

PASSKEY = "passkey"
TOTP = "totp"
RECOVERY_CODE = "recovery_code"


# -- refusals -------------------------------------------------------------------------------------
class SignInRefused(Exception):
    """The proof offered does not sign anyone in; ``str(error)`` is safe to show."""


class ChallengeInvalid(SignInRefused):
    """The challenge is unknown, used, expired or for something else."""


class PasskeyRefused(SignInRefused):
    """The authenticator's answer does not verify, or names no usable passkey."""


class CodeRefused(SignInRefused):
    """The authenticator-app or recovery code is wrong, used, or the member has none."""


class TooManyWrongCodes(SignInRefused):
    """Codes for this staff member are paused for ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many wrong codes: try again in {retry_after} seconds.")
        self.retry_after = retry_after


class SessionInvalid(Exception):
    """No live staff session for this browser."""


class ProofTooOld(Exception):
    """The action needs the member to prove who they are again."""


# -- tables --------------------------------------------------------------------------------------
class StaffPasskey(db.Model):
    """A WebAuthn credential of a staff member (its public key; the private key never leaves it)."""

    __tablename__ = "staff_passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StaffTotp(db.Model):
    """An authenticator app enrolled (or being enrolled) by a staff member."""

    __tablename__ = "staff_totp"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), primary_key=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary(256))
    created_at: Mapped[int] = mapped_column(BigInteger)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # RFC 6238 time step of the last accepted code: never accepted again.
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)


class StaffRecoveryCode(db.Model):
    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StaffCodeThrottle(db.Model):
    """Wrong codes per address typed (``_throttle_key``: a hash), whether it has an account or not."""

    __tablename__ = "staff_code_throttle"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[int] = mapped_column(BigInteger)


class WebAuthnChallenge(db.Model):
    """A challenge handed to a browser for one registration or sign-in; consumed once."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    purpose: Mapped[str] = mapped_column(String(16))  # "register" | "sign_in"
    staff_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StaffSession(db.Model):
    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    proven_at: Mapped[int] = mapped_column(BigInteger)  # the last time a factor was shown
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


# -- the relying party ---------------------------------------------------------------------------
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "[::1]"})


def staff_origin(issuer: str) -> str:
    """The origin of the staff pages: the issuer's, with a loopback address named ``localhost``.

    A WebAuthn relying party is identified by a domain, never an IP address
    (WebAuthn §5.1.4.1 and the HTML "valid domain" rules), so on a laptop
    (http://127.0.0.1:8000) the staff pages live at http://localhost:8000.
    """
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    if host in LOOPBACK_ADDRESSES:
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://localhost{port}"
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str

    @classmethod
    def current(cls) -> RelyingParty:
        origin = staff_origin(current_app.extensions["senim.settings"].issuer)
        return cls(id=urlsplit(origin).hostname or "localhost", name="Senim", origin=origin)


# -- challenges ----------------------------------------------------------------------------------
def _new_challenge(purpose: str, staff_id: str | None) -> WebAuthnChallenge:
    now = clock.now_int()
    # Expired challenges are dropped as new ones are made: the table stays small.
    db.session.execute(WebAuthnChallenge.__table__.delete().where(WebAuthnChallenge.expires_at < now - 3600))
    row = WebAuthnChallenge(
        id=secrets.token_urlsafe(24),
        challenge=secrets.token_bytes(32),
        purpose=purpose,
        staff_id=staff_id,
        expires_at=now + CHALLENGE_TTL,
    )
    db.session.add(row)
    db.session.commit()
    return row


def _consume_challenge(challenge_id: object, purpose: str, staff_id: str | None = None) -> bytes:
    """The challenge's bytes, marked used in the same statement (a second use finds nothing)."""
    if not isinstance(challenge_id, str) or not 20 <= len(challenge_id) <= 64:
        raise ChallengeInvalid("The sign-in step has expired: start again.")
    now = clock.now_int()
    conditions = [
        WebAuthnChallenge.id == challenge_id,
        WebAuthnChallenge.purpose == purpose,
        WebAuthnChallenge.used_at.is_(None),
        WebAuthnChallenge.expires_at > now,
    ]
    if staff_id is not None:
        conditions.append(WebAuthnChallenge.staff_id == staff_id)
    claimed = db.session.execute(update(WebAuthnChallenge).where(*conditions).values(used_at=now))
    db.session.commit()
    if claimed.rowcount != 1:
        raise ChallengeInvalid("The sign-in step has expired: start again.")
    return db.session.get(WebAuthnChallenge, challenge_id).challenge


def _credential_json(credential: object) -> str:
    text = credential if isinstance(credential, str) else json.dumps(credential)
    if len(text) > MAX_CREDENTIAL_JSON:
        raise PasskeyRefused("The authenticator's answer is too large.")
    return text


# -- passkeys: registration ------------------------------------------------------------------------
def passkeys_of(member: StaffMember) -> list[StaffPasskey]:
    return list(
        db.session.scalars(
            select(StaffPasskey).where(StaffPasskey.staff_id == member.id).order_by(StaffPasskey.created_at)
        )
    )


def registration_options(member: StaffMember) -> tuple[str, str]:
    """``(challenge id, options JSON)`` for ``navigator.credentials.create``."""
    return registration_options_for(member.id, member.email, member.name, passkeys_of(member))


def registration_options_for(
    staff_id: str, email: str, name: str, existing: list[StaffPasskey] | None = None
) -> tuple[str, str]:
    """The same for a member about to exist (a participant's first admin at sign-up)."""
    rp = RelyingParty.current()
    row = _new_challenge("register", staff_id)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        # WebAuthn §14.6.1: the user handle must not be personal data; the member id is a random UUID.
        user_id=staff_id.encode(),
        user_name=email,
        user_display_name=name,
        challenge=row.challenge,
        timeout=CHALLENGE_TTL * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in existing or []],
    )
    return row.id, options_to_json(options)


@dataclass(frozen=True)
class NewPasskey:
    """A passkey whose creation verified, not kept yet."""

    staff_id: str
    credential_id: bytes
    public_key: bytes
    sign_count: int


def verify_new_passkey(staff_id: str, challenge_id: str, credential: object) -> NewPasskey:
    """The authenticator's answer to our registration challenge for ``staff_id``, verified."""
    challenge = _consume_challenge(challenge_id, "register", staff_id)
    rp = RelyingParty.current()
    try:
        verified = verify_registration_response(
            credential=_credential_json(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as error:
        audit("staff.passkey_refused", staff_id=staff_id, outcome="refused", reason=type(error).__name__)
        raise PasskeyRefused("The passkey could not be verified: try again.") from None
    if db.session.scalar(select(StaffPasskey.id).where(StaffPasskey.credential_id == verified.credential_id)):
        raise PasskeyRefused("This passkey is already registered.")
    return NewPasskey(staff_id, verified.credential_id, verified.credential_public_key, verified.sign_count)


def keep_passkey(new: NewPasskey, name: str, *, commit: bool = True) -> StaffPasskey:
    """Store the verified passkey (committed and audited, unless the caller commits it with more)."""
    passkey = StaffPasskey(
        id=secrets.token_hex(16),
        staff_id=new.staff_id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        name=(" ".join((name or "").split())[:60] or "Passkey"),
        created_at=clock.now_int(),
    )
    db.session.add(passkey)
    if commit:
        db.session.commit()
        audit("staff.passkey_added", staff_id=new.staff_id, passkey_id=passkey.id)
    return passkey


def register_passkey(member: StaffMember, challenge_id: str, credential: object, name: str) -> StaffPasskey:
    """Keep the new passkey if the authenticator's answer verifies against our challenge."""
    # An invited member registers their first passkey as they accept the invitation.
    if member.status not in (ACTIVE, INVITED):
        raise PasskeyRefused("This staff account is not active.")
    if len(passkeys_of(member)) >= MAX_PASSKEYS:
        raise PasskeyRefused(f"At most {MAX_PASSKEYS} passkeys: remove one first.")
    return keep_passkey(verify_new_passkey(member.id, challenge_id, credential), name)


def remove_passkey(member: StaffMember, passkey_id: str) -> None:
    """Remove one of the member's passkeys; the last way in cannot be removed."""
    passkey = db.session.get(StaffPasskey, passkey_id) if isinstance(passkey_id, str) else None
    if passkey is None or passkey.staff_id != member.id:
        raise PasskeyRefused("No such passkey.")
    if len(passkeys_of(member)) <= 1 and totp_of(member) is None:
        raise PasskeyRefused(
            "This is your only way to sign in: add another passkey or an authenticator app first."
        )
    db.session.delete(passkey)
    db.session.commit()
    audit("staff.passkey_removed", staff_id=member.id, passkey_id=passkey_id)


# -- passkeys: sign-in -------------------------------------------------------------------------------
def sign_in_options() -> tuple[str, str]:
    """``(challenge id, options JSON)`` for ``navigator.credentials.get`` with any passkey of this site."""
    rp = RelyingParty.current()
    row = _new_challenge("sign_in", None)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=row.challenge,
        timeout=CHALLENGE_TTL * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return row.id, options_to_json(options)


def _credential_raw_id(credential_json: str) -> bytes:
    try:
        parsed = json.loads(credential_json)
        return base64url_to_bytes(parsed["rawId"])
    except (ValueError, KeyError, TypeError):
        raise PasskeyRefused("The passkey could not be verified: try again.") from None


def sign_in_with_passkey(challenge_id: str, credential: object) -> StaffMember:
    """The active staff member whose passkey signed our challenge (user verified)."""
    challenge = _consume_challenge(challenge_id, "sign_in")
    text = _credential_json(credential)
    passkey = db.session.scalar(
        select(StaffPasskey).where(StaffPasskey.credential_id == _credential_raw_id(text))
    )
    if passkey is None:
        audit("staff.sign_in_refused", method=PASSKEY, outcome="refused", reason="unknown_passkey")
        raise PasskeyRefused("This passkey is not registered with Senim.")
    rp = RelyingParty.current()
    try:
        verified = verify_authentication_response(
            credential=text,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as error:
        audit(
            "staff.sign_in_refused",
            staff_id=passkey.staff_id,
            method=PASSKEY,
            outcome="refused",
            reason=type(error).__name__,
        )
        raise PasskeyRefused("The passkey could not be verified: try again.") from None
    member = _require_active(passkey.staff_id, PASSKEY)
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = clock.now_int()
    db.session.commit()
    return member


def _require_active(staff_id: str, method: str) -> StaffMember:
    member = get_member(staff_id)
    if member is None or member.status != ACTIVE:
        audit(
            "staff.sign_in_refused", staff_id=staff_id, method=method, outcome="refused", reason="not_active"
        )
        raise SignInRefused("This staff account is not active.")
    return member


# -- the authenticator app (TOTP) -----------------------------------------------------------------
def _totp_key() -> bytes:
    return hmac.new(
        current_app.extensions["senim.keyring"].server_secret, b"senim-staff-totp-v1", hashlib.sha256
    ).digest()


def _totp(row: StaffTotp) -> pyotp.TOTP:
    secret = unseal(_totp_key(), row.sealed_secret, iin=row.staff_id, purpose="totp").decode()
    return pyotp.TOTP(secret, digits=TOTP_DIGITS)


def totp_of(member: StaffMember) -> StaffTotp | None:
    """The member's confirmed authenticator app, if any."""
    row = db.session.get(StaffTotp, member.id)
    return row if row is not None and row.confirmed_at is not None else None


def begin_totp_enrolment(member: StaffMember) -> str:
    """A new secret (replacing an unconfirmed one) and its ``otpauth://`` URI for the QR code.

    An enrolled app stays in force until the new one is confirmed.
    """
    if totp_of(member) is not None:
        raise CodeRefused("An authenticator app is already set up: remove it first.")
    secret = pyotp.random_base32()
    row = db.session.get(StaffTotp, member.id)
    sealed = seal(_totp_key(), secret.encode(), iin=member.id, purpose="totp")
    if row is None:
        db.session.add(
            StaffTotp(staff_id=member.id, sealed_secret=sealed, created_at=clock.now_int(), last_step=0)
        )
    else:
        row.sealed_secret, row.created_at, row.last_step = sealed, clock.now_int(), 0
    db.session.commit()
    return pyotp.TOTP(secret, digits=TOTP_DIGITS).provisioning_uri(name=member.email, issuer_name=TOTP_ISSUER)


def _matching_step(totp: pyotp.TOTP, code: str, after_step: int) -> int | None:
    """The time step (now, or one either side) whose code is ``code``, if later than ``after_step``."""
    now_step = int(clock.now()) // totp.interval
    found = None
    for step in (now_step - 1, now_step, now_step + 1):
        # Every candidate is compared, in constant time, whatever matched before.
        if hmac.compare_digest(totp.generate_otp(step), code) and step > after_step:
            found = step
    return found


def _clean_code(code: object, length: int) -> str:
    text = "".join(str(code or "").split()).replace("-", "")
    if len(text) != length:
        raise CodeRefused("The code is wrong.")
    return text


def confirm_totp_enrolment(member: StaffMember, code: str) -> StaffTotp:
    """The enrolment confirmed by a first code from the app."""
    row = db.session.get(StaffTotp, member.id)
    if row is None or row.confirmed_at is not None:
        raise CodeRefused("Start the authenticator app set-up again.")
    step = _matching_step(_totp(row), _clean_code(code, TOTP_DIGITS), 0)
    if step is None:
        raise CodeRefused("The code is wrong: check the app shows Senim and the time on the phone is right.")
    row.confirmed_at = clock.now_int()
    row.last_step = step
    db.session.commit()
    audit("staff.totp_enrolled", staff_id=member.id)
    return row


def code_to_type_now(member: StaffMember) -> str:
    """The code the member's app shows now, or the next one if now's was used (for ``senim demo staff-code``).

    Reading a code needs the database and the server's secret: whoever runs
    this could read the sealed secret anyway. The CLI offers it for the demo
    accounts only, outside production.
    """
    row = totp_of(member)
    if row is None:
        raise CodeRefused("No authenticator app is set up for this staff member.")
    totp = _totp(row)
    step = max(int(clock.now()) // totp.interval, row.last_step + 1)
    return totp.generate_otp(step)


def remove_totp(member: StaffMember) -> None:
    row = db.session.get(StaffTotp, member.id)
    if row is None:
        return
    if row.confirmed_at is not None and not passkeys_of(member):
        raise CodeRefused("This is your only way to sign in: add a passkey first.")
    db.session.delete(row)
    db.session.commit()
    audit("staff.totp_removed", staff_id=member.id)


# -- codes: throttling ---------------------------------------------------------------------------
def _throttle_key(email: object) -> str:
    """Wrong codes count per address typed, known or not (an unknown address is paused the same
    way, so the pause tells nothing of who has an account); kept as a hash, not the address."""
    typed = str(email or "").strip().lower()[:254]
    return hashlib.sha256(f"senim-staff-codes|{typed}".encode()).hexdigest()


def _check_not_throttled(key: str) -> None:
    row = db.session.get(StaffCodeThrottle, key, populate_existing=True)
    if row is not None and row.locked_until > clock.now_int():
        raise TooManyWrongCodes(row.locked_until - clock.now_int())


def _record_wrong_code(key: str) -> None:
    row = db.session.get(StaffCodeThrottle, key)
    if row is None:
        row = StaffCodeThrottle(subject=key, failures=0, locked_until=0)
        db.session.add(row)
    row.failures += 1
    row.locked_until = clock.now_int() + delay_after(row.failures)
    db.session.commit()


def _clear_wrong_codes(key: str) -> None:
    db.session.execute(StaffCodeThrottle.__table__.delete().where(StaffCodeThrottle.subject == key))
    db.session.commit()


def _refuse_code(key: str, member: StaffMember | None, method: str) -> CodeRefused:
    _record_wrong_code(key)
    audit(
        "staff.sign_in_refused",
        staff_id=member.id if member else None,
        method=method,
        outcome="refused",
        reason="wrong_code",
    )
    return CodeRefused("The address or the code is wrong.")


def _constant_work() -> None:
    # An unknown address costs as much as a known one: no timing difference to probe.
    pyotp.TOTP(pyotp.random_base32()).at(time.time())


def sign_in_with_totp(email: str, code: str) -> StaffMember:
    key = _throttle_key(email)
    _check_not_throttled(key)
    member = member_by_email(email)
    if member is None:
        _constant_work()
        raise _refuse_code(key, None, TOTP)
    row = totp_of(member)
    try:
        cleaned = _clean_code(code, TOTP_DIGITS)
    except CodeRefused:
        raise _refuse_code(key, member, TOTP) from None
    step = _matching_step(_totp(row), cleaned, row.last_step) if row is not None else None
    if step is None:
        raise _refuse_code(key, member, TOTP)
    # The step is claimed with a conditional update: two requests with one code, one wins.
    claimed = db.session.execute(
        update(StaffTotp)
        .where(StaffTotp.staff_id == member.id, StaffTotp.last_step < step)
        .values(last_step=step)
    )
    db.session.commit()
    if claimed.rowcount != 1:
        raise _refuse_code(key, member, TOTP)
    _clear_wrong_codes(key)
    return _require_active(member.id, TOTP)


# -- recovery codes ------------------------------------------------------------------------------
def _recovery_hash(staff_id: str, code: str) -> str:
    return secret_hash(f"senim-recovery-v1|{staff_id}|{code}")


def new_recovery_codes(member: StaffMember) -> list[str]:
    """Ten fresh codes (``xxxxx-xxxxx``), replacing any earlier ones; shown once, kept hashed."""
    db.session.execute(StaffRecoveryCode.__table__.delete().where(StaffRecoveryCode.staff_id == member.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
    codes = []
    now = clock.now_int()
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(
            StaffRecoveryCode(staff_id=member.id, code_hash=_recovery_hash(member.id, raw), created_at=now)
        )
    db.session.commit()
    audit("staff.recovery_codes_made", staff_id=member.id, count=RECOVERY_CODES)
    return codes


def recovery_codes_left(member: StaffMember) -> int:
    return len(
        db.session.scalars(
            select(StaffRecoveryCode.id).where(
                StaffRecoveryCode.staff_id == member.id, StaffRecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def any_recovery_codes_made(member: StaffMember) -> bool:
    return (
        db.session.scalar(
            select(StaffRecoveryCode.id).where(StaffRecoveryCode.staff_id == member.id).limit(1)
        )
        is not None
    )


def sign_in_with_recovery_code(email: str, code: str) -> StaffMember:
    key = _throttle_key(email)
    _check_not_throttled(key)
    member = member_by_email(email)
    if member is None:
        _constant_work()
        raise _refuse_code(key, None, RECOVERY_CODE)
    try:
        cleaned = _clean_code(str(code or "").lower(), 10)
    except CodeRefused:
        raise _refuse_code(key, member, RECOVERY_CODE) from None
    used = db.session.execute(
        update(StaffRecoveryCode)
        .where(
            StaffRecoveryCode.staff_id == member.id,
            StaffRecoveryCode.code_hash == _recovery_hash(member.id, cleaned),
            StaffRecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now_int())
    )
    db.session.commit()
    if used.rowcount != 1:
        raise _refuse_code(key, member, RECOVERY_CODE)
    _clear_wrong_codes(key)
    member = _require_active(member.id, RECOVERY_CODE)
    audit("staff.recovery_code_used", staff_id=member.id, left=recovery_codes_left(member))
    return member


# -- sessions -----------------------------------------------------------------------------------
def start_session(member: StaffMember, method: str) -> tuple[StaffSession, str]:
    """A signed-in session and the secret for the browser's cookie (only its hash is kept)."""
    browser_secret = secrets.token_urlsafe(32)
    now = clock.now_int()
    session = StaffSession(
        id=secrets.token_urlsafe(24),
        browser_secret_hash=secret_hash(browser_secret),
        staff_id=member.id,
        method=method,
        created_at=now,
        last_seen_at=now,
        proven_at=now,
    )
    db.session.add(session)
    db.session.commit()
    audit("staff.signed_in", staff_id=member.id, participant_id=member.participant_id, method=method)
    return session, browser_secret


def session_of_browser(browser_secret: str | None) -> tuple[StaffSession, StaffMember]:
    """The live session this cookie names and its active member; the session's idle clock restarts."""
    if not browser_secret or len(browser_secret) > 128:
        raise SessionInvalid()
    session = db.session.scalar(
        select(StaffSession).where(StaffSession.browser_secret_hash == secret_hash(browser_secret))
    )
    now = clock.now_int()
    if (
        session is None
        or session.ended_at is not None
        or session.last_seen_at + IDLE_TIMEOUT <= now
        or session.created_at + MAX_SESSION <= now
    ):
        raise SessionInvalid()
    member = get_member(session.staff_id)
    if member is None or member.status != ACTIVE:
        raise SessionInvalid()
    session.last_seen_at = now
    db.session.commit()
    return session, member


def end_session(session: StaffSession) -> None:
    if session.ended_at is None:
        session.ended_at = clock.now_int()
        db.session.commit()
        audit("staff.signed_out", staff_id=session.staff_id)


def require_recent_proof(session: StaffSession) -> None:
    """Sensitive actions (staff, blocking, keys, decisions) need a factor shown in the last minutes."""
    if session.proven_at + REAUTH_WINDOW <= clock.now_int():
        raise ProofTooOld()


def record_proof(session: StaffSession, member: StaffMember) -> None:
    """The member proved who they are again in this session (a passkey or a code)."""
    if member.id != session.staff_id:
        raise SignInRefused("Sign in as the same staff member to continue.")
    session.proven_at = clock.now_int()
    db.session.commit()
    audit("staff.reauthenticated", staff_id=member.id)


def encode_challenge_options(challenge_id: str, options_json: str) -> dict:
    """What the page's script receives: the challenge id and WebAuthn's options."""
    return {"challenge_id": challenge_id, "publicKey": json.loads(options_json)}
