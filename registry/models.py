"""The registry's tables.

Times are integer seconds since the epoch (the application clock).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
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
#: The API's status (docs/api-publication.md). Only ``published`` is routed by the proxy.
SUBMITTED = "submitted"  # stored, its first conformance check not finished
PUBLISHED = "published"  # passed its last check: on the showcase, routed
REFUSED = "refused"  # its first check (or a re-check asked for while refused) failed
SUSPENDED = "suspended"  # was published, failed a scheduled re-check: not routed until one passes
UNPUBLISHED = "unpublished"  # taken off by the provider or operator: not routed, not re-checked
API_STATUSES = (SUBMITTED, PUBLISHED, REFUSED, SUSPENDED, UNPUBLISHED)
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
    status: Mapped[str] = mapped_column(String(16))  # one of API_STATUSES
    created_at: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status_changed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # -- publication through the sandbox (None for an API added by the operator without one) --
    #: where the conformance suite calls the provider's sandbox (never shown to API users)
    sandbox_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    description: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    #: the customer (IIN) whose test data the sandbox serves; the suite calls on their behalf
    sandbox_customer_iin: Mapped[str | None] = mapped_column(String(12), nullable=True)
    last_checked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_check_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: when the worker re-checks it next (None: not on the schedule)
    next_check_due_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    #: a worker's claim on the next check (conditional UPDATE), so two workers never check it at once
    check_claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    check_lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

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
            "status_changed_at": self.status_changed_at,
            "sandbox_url": self.sandbox_url,
            "description": self.description,
            "sandbox_customer_iin": self.sandbox_customer_iin,
            "last_checked_at": self.last_checked_at,
            "last_check_passed": self.last_check_passed,
            "next_check_due_at": self.next_check_due_at,
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


# -- conformance checks and the participants' inbox -----------------------------------------------
CHECK_TRIGGERS = ("submission", "schedule", "manual")


class ApiCheckRun(db.Model):
    """One run of the sandbox's conformance suite against an API. Never deleted: the history
    is the API's health record (uptime, latency) and the evidence for a suspension."""

    __tablename__ = "api_check_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_id: Mapped[str] = mapped_column(ForeignKey("published_apis.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # one of CHECK_TRIGGERS
    started_at: Mapped[int] = mapped_column(BigInteger, index=True)
    finished_at: Mapped[int] = mapped_column(BigInteger)
    passed: Mapped[bool] = mapped_column(Boolean)
    #: the suite's whole run in milliseconds
    duration_ms: Mapped[int] = mapped_column(Integer)
    #: [{name, status, passed, detail, duration_ms}] in the suite's order: no account data
    results: Mapped[list] = mapped_column(JSON)
    #: the API's status after this run
    api_status: Mapped[str] = mapped_column(String(16))

    def as_public_dict(self) -> dict:
        return {
            "id": self.id,
            "api_id": self.api_id,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "passed": self.passed,
            "duration_ms": self.duration_ms,
            "results": list(self.results or []),
            "api_status": self.api_status,
        }


class ParticipantNotification(db.Model):
    """A message to a participant, shown in its cabinet (an API suspended, republished, …)."""

    __tablename__ = "participant_notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))  # e.g. "api.suspended"
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    def as_public_dict(self) -> dict:
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "subject": self.subject,
            "body": self.body,
            "created_at": self.created_at,
            "read_at": self.read_at,
        }
