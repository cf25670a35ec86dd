"""The registry's tables.

Times are integer seconds since the epoch (the application clock).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, String
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
