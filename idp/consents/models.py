"""The central register of consents: one row a consent, and its append-only history."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import db

AWAITING_AUTHORISATION = "AwaitingAuthorisation"
AUTHORISED = "Authorised"
REJECTED = "Rejected"
REVOKED = "Revoked"
EXPIRED = "Expired"
STATUSES = (AWAITING_AUTHORISATION, AUTHORISED, REJECTED, REVOKED, EXPIRED)


class Consent(db.Model):
    """What an API user may read of one customer's accounts, at which banks, until when.

    Never deleted: a consent ends by a status change (see lifecycle.py).
    """

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    participant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the API user
    customer_iin: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    permissions: Mapped[list] = mapped_column(JSON)
    provider_ids: Mapped[list] = mapped_column(JSON)  # the banks asked for
    authorised_provider_ids: Mapped[list | None] = mapped_column(
        JSON, nullable=True
    )  # what the customer kept
    purpose: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    transaction_from: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    transaction_to: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    status_updated_at: Mapped[int] = mapped_column(BigInteger)
    authorised_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: when the API user last used the consent (a token issued or refreshed, a resource call)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # a status change read at one version cannot overwrite another made meanwhile
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API

    def __repr__(self) -> str:
        return f"Consent(id={self.id!r}, status={self.status!r})"


class ConsentStatusChange(db.Model):
    """One entry of a consent's history: from, to, when, by whom, why."""

    __tablename__ = "consent_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(16))  # customer, api_user, operator, system
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(40))


class SecurityEvent(db.Model):
    """A consent event to tell the API user (RFC 8417 SET), and its delivery: the outbox.

    Written in the transaction that changes the consent, so no change is
    ever left untold; delivered later, retried with backoff until the
    receiver accepts it.
    """

    __tablename__ = "security_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SET's jti
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))  # the consent's status the event reports
    reason: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, index=True)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
