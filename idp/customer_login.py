"""Customer login: who the customer is, then the two factors, in that order.

A login belongs to one authorization interaction (its id is the
interaction's) and moves forward through these steps; each step checks that
the ones before it are done, so no page can be skipped:

| # | step          | requires                   | service                               |
|---|---------------|----------------------------|---------------------------------------|
| 1 | identify      | —                          | the reference registry (IIN or phone) |
| 2 | face          | identified                 | biometrics.face_check (liveness+match)|
| 3 | one-time code | face passed                | idp.otp (SMS to the phone on record)  |
| 4 | authenticated | face passed and code taken | —                                     |

Identifying again starts over: a factor passed for one person never counts
for another. Every change of a login is checked against the version it was
read at (optimistic locking), so two requests racing on one login — a face
check still running while the customer identifies as someone else — cannot
mix their results: the later write is refused (``StepOutOfOrder``). The customer is known to the API user by an opaque subject
derived from the IIN (``customer_subject``), never by the IIN itself.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from biometrics.errors import InvalidIIN, InvalidPhone
from biometrics.face_check import FaceCheck, FaceCheckResult, finish_face_check, start_face_check
from biometrics.iin import validate_iin
from biometrics.models import BiometricChallenge
from biometrics.phones import normalize_phone
from biometrics.registry import ReferenceRegistry
from idp import otp
from idp.sms import SmsSender
from senim import clock
from senim.audit import audit
from senim.database import db

#: OIDC Core §2 ``acr``: the level the two factors give.
ACR_TWO_FACTORS = "urn:senim:loa:2fa"
#: RFC 8176 §2: facial biometric, SMS code, several factors.
AMR_TWO_FACTORS = ["face", "sms", "mfa"]


class CustomerLogin(db.Model):
    """Where a customer is in the login of one interaction."""

    __tablename__ = "customer_logins"

    interaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    iin: Mapped[str | None] = mapped_column(String(12), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    identified_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    face_challenge_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    face_passed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    otp_challenge_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    otp_passed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API

    @property
    def step(self) -> str:
        """The next page this customer has to go through."""
        if self.identified_at is None:
            return "identify"
        if self.face_passed_at is None:
            return "face"
        if self.otp_passed_at is None:
            return "otp"
        return "authenticated"

    def __repr__(self) -> str:
        return f"CustomerLogin(interaction_id={self.interaction_id!r}, step={self.step!r})"


class LoginRefused(Exception):
    """A step the customer cannot take now; ``reason`` is stable for pages and audit."""

    reason = "login_refused"

    def __init__(self, reason: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(reason or self.reason)
        self.reason = reason or self.reason
        self.retry_after = retry_after


class StepOutOfOrder(LoginRefused):
    reason = "step_out_of_order"


class NotIdentified(LoginRefused):
    """Nobody on record has this IIN or phone (``not_on_record``), or it is not
    an IIN or a Kazakh mobile number at all (``invalid_identifier``)."""

    reason = "not_on_record"


@dataclass(frozen=True)
class Identified:
    iin: str
    phone: str


def login_for(interaction_id: str) -> CustomerLogin:
    """The login of this interaction, started on first use (once, even by parallel requests)."""
    login = db.session.get(CustomerLogin, interaction_id)
    if login is None:
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        db.session.execute(
            insert(CustomerLogin)
            .values(interaction_id=interaction_id, created_at=clock.now_int(), version=1)
            .on_conflict_do_nothing()
        )
        db.session.commit()
        login = db.session.get(CustomerLogin, interaction_id)
    return login


# -- 1. identify ----------------------------------------------------------------------
def identify(login: CustomerLogin, identifier: str, registry: ReferenceRegistry) -> Identified:
    """Find the customer on record by IIN (12 digits) or mobile number, and start over."""
    try:
        iin, phone = _person_on_record(identifier, registry)
        if iin is None:
            raise NotIdentified()
    except NotIdentified as refusal:
        audit(
            "login.not_identified",
            outcome="refused",
            interaction_id=login.interaction_id,
            reason=refusal.reason,
        )
        raise
    login.iin, login.phone, login.identified_at = iin, phone, clock.now_int()
    login.face_challenge_id = login.face_passed_at = None
    login.otp_challenge_id = login.otp_passed_at = None
    _save()
    audit("login.identified", interaction_id=login.interaction_id, iin=iin)
    return Identified(iin, phone)


def _person_on_record(identifier: str, registry: ReferenceRegistry) -> tuple[str | None, str | None]:
    text = (identifier or "").strip() if isinstance(identifier, str) else ""
    digits = text.replace(" ", "")
    try:
        if len(digits) == 12 and digits.isdigit():
            reference = registry.reference_for(validate_iin(digits))
            return (reference.iin, reference.phone) if reference else (None, None)
        person = registry.person_by_phone(normalize_phone(text))
    except (InvalidIIN, InvalidPhone):
        raise NotIdentified("invalid_identifier") from None
    return (person.iin, person.phone) if person else (None, None)


# -- 2. face -------------------------------------------------------------------------
def start_face(login: CustomerLogin, registry: ReferenceRegistry) -> FaceCheck:
    """A new liveness challenge for the identified customer (an earlier one stops counting)."""
    _require(login, "face")
    check = start_face_check(login.iin, registry)
    login.face_challenge_id = check.challenge_id
    _save()
    return check


def finish_face(
    login: CustomerLogin, challenge_id: str, capture: list[bytes] | bytes, registry: ReferenceRegistry
) -> FaceCheckResult:
    """Decide the first factor; only the login's latest challenge may be answered."""
    _require(login, "face")
    if not login.face_challenge_id or not hmac.compare_digest(
        str(challenge_id or "").encode(), login.face_challenge_id.encode()
    ):
        raise StepOutOfOrder("face_challenge_unknown")
    result = finish_face_check(challenge_id, login.iin, capture, registry)
    if result.accepted:  # the accepted challenge stays named: authenticated_customer checks whose it was
        login.face_passed_at = clock.now_int()
    else:
        login.face_challenge_id = None
    _save()
    return result


# -- 3. one-time code ------------------------------------------------------------------
def send_code(login: CustomerLogin, sender: SmsSender, key: bytes) -> otp.SentCode:
    """Send a code to the phone on record (raises ``otp.OtpRefused`` subclasses)."""
    _require(login, "otp")
    sent = otp.send_code(login.iin, login.phone, sender, key)
    login.otp_challenge_id = sent.challenge_id
    _save()
    return sent


def verify_code(login: CustomerLogin, code: str, key: bytes) -> None:
    """Take the code (raises ``otp.OtpRefused`` subclasses); the login is then authenticated."""
    _require(login, "otp")
    if not login.otp_challenge_id:
        raise otp.OtpUnknown()
    challenge = otp.verify_code(login.otp_challenge_id, code, key)
    if challenge.subject != login.iin:  # defence in depth: the code was sent for this person
        raise otp.OtpUnknown()
    login.otp_passed_at = clock.now_int()
    _save()
    audit("login.authenticated", interaction_id=login.interaction_id, iin=login.iin, amr=AMR_TWO_FACTORS)


# -- 4. authenticated ------------------------------------------------------------------
def authenticated_customer(login: CustomerLogin) -> str:
    """The IIN of a customer who passed both factors in this login.

    Besides the step, the factors themselves are checked once more: the face
    challenge was accepted for this IIN and the code was taken for it.
    """
    _require(login, "authenticated")
    face = db.session.get(BiometricChallenge, login.face_challenge_id or "")
    code = db.session.get(otp.OtpChallenge, login.otp_challenge_id or "")
    if face is None or face.iin != login.iin or face.outcome != "accepted":
        raise StepOutOfOrder()
    if code is None or code.subject != login.iin or code.consumed_at is None:
        raise StepOutOfOrder()
    return login.iin


def customer_subject(server_secret: bytes, iin: str) -> str:
    """The customer's ``sub`` (OIDC Core §8): stable, opaque, not the IIN."""
    digest = hmac.new(server_secret, f"senim-customer-subject-v1|{iin}".encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


_ORDER = ("identify", "face", "otp", "authenticated")


def _save() -> None:
    """Commit the login's change, unless another request changed the login since it was read."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        audit("login.changed_meanwhile", outcome="refused")
        raise StepOutOfOrder("login_changed") from None


def _require(login: CustomerLogin, step: str) -> None:
    """``step`` is the one this login has to take next: earlier ones are done, none is skipped."""
    if step == "authenticated":
        if login.step != "authenticated":
            raise StepOutOfOrder()
        return
    if _ORDER.index(login.step) != _ORDER.index(step):
        raise StepOutOfOrder()
