"""The registry's tables.

Times are integer seconds since the epoch (the application clock).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import db

ACTIVE = "active"
BLOCKED = "blocked"


class Participant(db.Model):
    """A legal entity taking part in the platform, by its BIN.

    Rows are never deleted: clients and consents keep pointing at them, and a
    participant that must stop is blocked instead.
    """

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # str(uuid4())
    name: Mapped[str] = mapped_column(String(200))
    bin: Mapped[str] = mapped_column(String(12), unique=True)
    roles: Mapped[list] = mapped_column(JSON)  # "api_provider" and/or "api_user"
    status: Mapped[str] = mapped_column(String(16))  # "active" | "blocked"
    created_at: Mapped[int] = mapped_column(BigInteger)
    status_changed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)

    def as_public_dict(self) -> dict:
        """What the CLI prints and other participants may see (a BIN is public)."""
        return {
            "id": self.id,
            "name": self.name,
            "bin": self.bin,
            "roles": list(self.roles or []),
            "status": self.status,
            "created_at": self.created_at,
            "status_changed_at": self.status_changed_at,
            "status_reason": self.status_reason,
        }

    def __repr__(self) -> str:
        return f"<Participant {self.id} {self.status}>"


# -- published APIs and subscriptions (the proxy's routing tables) ------------------------------
PUBLISHED = "published"
UNPUBLISHED = "unpublished"
SUBSCRIPTION_ACTIVE = "active"
SUBSCRIPTION_ENDED = "ended"


class PublishedApi(db.Model):
    """A bank's implementation of a standard at a base URL, which the proxy routes to.

    Only a ``published`` API receives calls; unpublishing stops routing at once.
    """

    __tablename__ = "published_apis"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # str(uuid4())
    provider_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    standard: Mapped[str] = mapped_column(String(64))  # "account-information"
    version: Mapped[str] = mapped_column(String(16))  # "v1"
    base_url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16))  # "published" | "unpublished"
    created_at: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    def as_public_dict(self) -> dict:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "standard": self.standard,
            "version": self.version,
            "base_url": self.base_url,
            "status": self.status,
            "created_at": self.created_at,
            "published_at": self.published_at,
        }


class ApiSubscription(db.Model):
    """An API user's client subscribed to a published API: only subscribers are routed."""

    __tablename__ = "api_subscriptions"
    __table_args__ = (UniqueConstraint("api_id", "client_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_id: Mapped[str] = mapped_column(ForeignKey("published_apis.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)  # the API user
    status: Mapped[str] = mapped_column(String(16))  # "active" | "ended"
    created_at: Mapped[int] = mapped_column(BigInteger)

    def as_public_dict(self) -> dict:
        return {
            "id": self.id,
            "api_id": self.api_id,
            "client_id": self.client_id,
            "participant_id": self.participant_id,
            "status": self.status,
            "created_at": self.created_at,
        }
