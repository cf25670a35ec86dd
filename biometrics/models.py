"""The reference registry's table: one row per person, the face sealed.

Times are integer seconds since the epoch (the application clock). The
encoding, and the photo where the operator keeps it, are stored only sealed
(``biometrics.sealing``): the database never holds them in the clear.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import db

#: How a person came to be on record.
SOURCES = ("cli-add", "cli-import", "demo")


class Person(db.Model):
    """A person on record: IIN, name, phone on record, sealed reference face."""

    __tablename__ = "reference_people"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # E.164; one person per phone, so that a phone identifies a customer.
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    sealed_encoding: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_photo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        # Never the name or the sealed values: a repr ends up in logs and tracebacks.
        return f"<Person {self.iin}>"


class BiometricThrottle(db.Model):
    """Consecutive failed biometric attempts of an IIN (``biometrics.lockout``)."""

    __tablename__ = "biometric_throttle"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, default=0)
    last_failure_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BiometricChallenge(db.Model):
    """A liveness challenge issued to a customer: answered once, before its deadline."""

    __tablename__ = "biometric_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    iin: Mapped[str] = mapped_column(String(12), index=True)
    poses: Mapped[list] = mapped_column(JSON)
    turn_degrees: Mapped[float] = mapped_column(Float)
    nonce: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    answered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reasons: Mapped[list | None] = mapped_column(JSON, nullable=True)


class SeenCapture(db.Model):
    """Fingerprints of frame sets already submitted: a replayed capture is refused."""

    __tablename__ = "biometric_seen_captures"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[int] = mapped_column(BigInteger)
