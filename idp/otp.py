"""The second factor: a one-time code sent by SMS to the phone on record.

- 6 digits from ``secrets``, stored only as a keyed hash (HMAC-SHA256 with a
  key derived from the deployment's secret), valid 5 minutes, accepted once;
- at most 5 wrong tries, then a new code is needed (NIST SP 800-63B §5.1.3.2);
- a new code no sooner than 60 s after the last one, and at most 5 codes per
  phone an hour;
- the code never reaches a log: the audit log records the challenge id only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.sms import SmsDeliveryFailed, SmsSender
from senim import clock
from senim.audit import audit
from senim.database import db
from senim.metrics import record_otp_verification

CODE_DIGITS = 6
CODE_TTL = 5 * 60
MAX_ATTEMPTS = 5
RESEND_AFTER = 60
MAX_CODES_PER_PHONE_PER_HOUR = 5


class OtpChallenge(db.Model):
    __tablename__ = "otp_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)  # whom the code proves (an IIN)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superseded_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OtpRefused(Exception):
    """A refusal the customer is told about; ``reason`` is stable for pages and audit."""

    reason = "otp_refused"
    message = "The code cannot be accepted."

    def __init__(self, message: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message or self.message)
        self.retry_after = retry_after


class OtpWrong(OtpRefused):
    reason = "otp_wrong"
    message = "The code is not correct."

    def __init__(self, remaining: int) -> None:
        super().__init__(f"The code is not correct; {remaining} tries left.")
        self.remaining = remaining


class OtpExpired(OtpRefused):
    reason = "otp_expired"
    message = "The code has expired; ask for a new one."


class OtpTooManyAttempts(OtpRefused):
    reason = "otp_too_many_attempts"
    message = "Too many wrong codes; ask for a new one."


class OtpUnknown(OtpRefused):
    reason = "otp_unknown"
    message = "This code request is unknown or already used; ask for a new one."


class OtpResendTooSoon(OtpRefused):
    reason = "otp_resend_too_soon"
    message = "A code was sent a moment ago; wait before asking again."


class OtpPhoneRateLimited(OtpRefused):
    reason = "otp_phone_rate_limited"
    message = "Too many codes were sent to this phone; try again later."


class OtpNotDelivered(OtpRefused):
    reason = "otp_not_delivered"
    message = "The SMS could not be sent. Please try again in a moment."


@dataclass(frozen=True)
class SentCode:
    challenge_id: str
    phone: str
    expires_at: int
    resend_after: int


def _code_hash(key: bytes, challenge_id: str, code: str) -> str:
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def otp_key(server_secret: bytes) -> bytes:
    """The OTP hashing key, derived from the deployment's secret."""
    return hmac.new(server_secret, b"senim-otp-v1", hashlib.sha256).digest()


def send_code(subject: str, phone: str, sender: SmsSender, key: bytes) -> SentCode:
    """Send a new code to ``phone`` for ``subject``; earlier codes stop working."""
    now = clock.now_int()
    latest = db.session.scalar(
        select(func.max(OtpChallenge.created_at)).where(OtpChallenge.subject == subject)
    )
    if latest is not None and now - latest < RESEND_AFTER:
        raise OtpResendTooSoon(retry_after=RESEND_AFTER - (now - latest))
    sent_last_hour = db.session.scalar(
        select(func.count()).where(OtpChallenge.phone == phone, OtpChallenge.created_at > now - 3600)
    )
    if sent_last_hour >= MAX_CODES_PER_PHONE_PER_HOUR:
        audit("otp.rate_limited", outcome="refused", subject_kind="iin", reason=OtpPhoneRateLimited.reason)
        raise OtpPhoneRateLimited(retry_after=3600)
    db.session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.subject == subject,
            OtpChallenge.consumed_at.is_(None),
            OtpChallenge.superseded_at.is_(None),
        )
        .values(superseded_at=now)
    )
    challenge_id = secrets.token_urlsafe(18)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = OtpChallenge(
        id=challenge_id,
        subject=subject,
        phone=phone,
        code_hash=_code_hash(key, challenge_id, code),
        created_at=now,
        expires_at=now + CODE_TTL,
        attempts=0,
    )
    db.session.add(challenge)
    text = f"Senim: {code} is your code. It is valid for 5 minutes. Never tell it to anyone."
    try:
        message_id = sender.send(phone, text)
    except SmsDeliveryFailed as error:
        db.session.rollback()
        audit("otp.delivery_failed", outcome="failed", provider_error=str(error))
        raise OtpNotDelivered() from None
    db.session.commit()
    audit("otp.sent", challenge_id=challenge_id, message_id=message_id)
    return SentCode(challenge_id, phone, now + CODE_TTL, now + RESEND_AFTER)


def verify_code(challenge_id: str, code: str, key: bytes) -> OtpChallenge:
    """Accept ``code`` once; every wrong try counts, atomically."""
    now = clock.now_int()
    challenge = db.session.get(OtpChallenge, challenge_id) if isinstance(challenge_id, str) else None
    if challenge is None or challenge.consumed_at is not None or challenge.superseded_at is not None:
        _refuse(challenge_id, OtpUnknown())
    if challenge.expires_at <= now:
        _refuse(challenge_id, OtpExpired())
    # Count the try first (conditional UPDATE), so parallel guesses cannot exceed the limit.
    counted = db.session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id, OtpChallenge.attempts < MAX_ATTEMPTS)
        .values(attempts=OtpChallenge.attempts + 1)
        .returning(OtpChallenge.attempts)
    ).first()
    if counted is None:
        _refuse(challenge_id, OtpTooManyAttempts())
    well_formed = isinstance(code, str) and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
    presented = _code_hash(key, challenge_id, code if well_formed else "")
    if not well_formed or not hmac.compare_digest(presented, challenge.code_hash):
        remaining = MAX_ATTEMPTS - counted.attempts
        _refuse(challenge_id, OtpWrong(remaining) if remaining else OtpTooManyAttempts())
    consumed = db.session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id, OtpChallenge.consumed_at.is_(None))
        .values(consumed_at=now)
        .returning(OtpChallenge.id)
    ).first()
    if consumed is None:
        _refuse(challenge_id, OtpUnknown())
    db.session.commit()
    audit("otp.verified", challenge_id=challenge_id)
    record_otp_verification(True)
    return challenge


def _refuse(challenge_id: object, refusal: OtpRefused) -> None:
    db.session.commit()  # the counted try stays counted
    audit("otp.refused", outcome="refused", challenge_id=str(challenge_id)[:32], reason=refusal.reason)
    record_otp_verification(False, refusal.reason)
    raise refusal
