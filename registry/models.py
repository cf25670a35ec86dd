"""The registry's tables.

Times are integer seconds since the epoch (the application clock).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import db

ACTIVE = "active"  # accredited (or added by an operator): it has roles and may act
BLOCKED = "blocked"  # stopped by an operator; unblocking restores active or registered
REGISTERED = "registered"  # registered itself, not accredited yet: no roles, may not act


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
    status: Mapped[str] = mapped_column(String(16))  # "registered" | "active" | "blocked"
    created_at: Mapped[int] = mapped_column(BigInteger)
    status_changed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The profile: contacts are for the operator, never shown in the public register.
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    description: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    #: when its first accreditation was approved (the register's "accredited since")
    accredited_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

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
            "accredited_at": self.accredited_at,
        }

    def profile_dict(self) -> dict:
        """The participant's own view (cabinet, operator): with its contacts."""
        record = self.as_public_dict()
        record.update(
            {
                "contact_email": self.contact_email,
                "contact_phone": self.contact_phone,
                "description": self.description,
            }
        )
        return record

    def __repr__(self) -> str:
        return f"<Participant {self.id} {self.status}>"


class ParticipantLogo(db.Model):
    """A participant's logo, re-encoded as PNG by the platform (never the uploaded bytes)."""

    __tablename__ = "participant_logos"

    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(BigInteger)


# -- accreditation ---------------------------------------------------------------------------------
SUBMITTED = "submitted"
IN_REVIEW = "in_review"
APPROVED = "approved"
REJECTED = "rejected"
OPEN_APPLICATION_STATES = (SUBMITTED, IN_REVIEW)


class AccreditationApplication(db.Model):
    """A participant's request to be accredited as API provider and/or API user.

    ``open_participant_id`` holds the participant's id while the application is
    open and NULL once decided: its unique constraint makes "one open
    application per participant" hold even for two requests in parallel
    (NULLs never collide, on SQLite as on PostgreSQL).
    """

    __tablename__ = "accreditation_applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    open_participant_id: Mapped[str | None] = mapped_column(String(36), unique=True, nullable=True)
    roles: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # submitted | in_review | approved | rejected
    submitted_at: Mapped[int] = mapped_column(BigInteger)
    decided_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reviewer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "roles": list(self.roles or []),
            "status": self.status,
            "submitted_at": self.submitted_at,
            "decided_at": self.decided_at,
            "reviewer_id": self.reviewer_id,
            "rejection_reason": self.rejection_reason,
        }


class AccreditationDocument(db.Model):
    """A PDF sent with an application; kept as sent, with its digest."""

    __tablename__ = "accreditation_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("accreditation_applications.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0, 1, … in the order sent
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[int] = mapped_column(BigInteger)

    def as_dict(self) -> dict:
        """Everything but the content."""
        return {
            "id": self.id,
            "application_id": self.application_id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "uploaded_at": self.uploaded_at,
        }


class AccreditationEvent(db.Model):
    """One step of an application's history: append-only."""

    __tablename__ = "accreditation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("accreditation_applications.id"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # applied | review_started | approved | rejected
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)

    def as_dict(self) -> dict:
        return {
            "at": self.at,
            "actor_id": self.actor_id,
            "action": self.action,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "reason": self.reason,
        }


class AccreditationCertificate(db.Model):
    """The signed statement that a participant is accredited in these roles (a JWT)."""

    __tablename__ = "accreditation_certificates"

    number: Mapped[str] = mapped_column(String(40), primary_key=True)  # the JWT's jti
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("accreditation_applications.id"))
    roles: Mapped[list] = mapped_column(JSON)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    #: set when a later approval issued the participant a new certificate; None: the current one
    superseded_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    jwt: Mapped[str] = mapped_column(Text)


# -- the platform's certificate authority -----------------------------------------------------------
class IssuedCertificate(db.Model):
    """An X.509 certificate the platform's CA issued to a participant (mTLS or signing)."""

    __tablename__ = "issued_certificates"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex, as in the CRL
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "mtls" | "signing"
    subject: Mapped[str] = mapped_column(String(500))  # RFC 4514 string
    not_before: Mapped[int] = mapped_column(BigInteger)
    not_after: Mapped[int] = mapped_column(BigInteger)
    certificate_pem: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)

    def as_dict(self) -> dict:
        return {
            "serial": self.serial,
            "participant_id": self.participant_id,
            "purpose": self.purpose,
            "subject": self.subject,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "revoked_at": self.revoked_at,
            "revocation_reason": self.revocation_reason,
        }


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


# -- billing: tariffs and the regulator's caps ----------------------------------------------------
class TariffCap(db.Model):
    """The regulator's highest price of one call to an endpoint, from a moment on (rows only added)."""

    __tablename__ = "tariff_caps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(80), index=True)  # "GET /accounts/{AccountId}/balances"
    cap_tiyn: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Tariff(db.Model):
    """An API provider's price of one call to an endpoint of its API, from a moment on.

    Never changed or deleted: a new price is a new row with a later ``effective_from``; the
    price of a call is the row in force at its time (``registry.tariffs.price_at``)."""

    __tablename__ = "tariffs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_id: Mapped[str] = mapped_column(ForeignKey("published_apis.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(80))
    price_tiyn: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: when a lower cap made this price too high (the provider must set a new one)
    above_cap_since: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


# -- billing: adjustments ----------------------------------------------------------------------------
class BillingAdjustment(db.Model):
    """A correction of what an API user owes an API provider, with its reason (rows only added).

    ``amount_tiyn`` is signed: positive, the API user pays the provider more; negative, the API
    user is credited (a refund after a dispute). It lands on the first period closed after it
    was recorded (``period`` is set then, "2026-11") and never on a period already closed.
    """

    __tablename__ = "billing_adjustments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    api_user_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    appeal_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger, index=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True, index=True)


# -- billing: closed periods, their invoices and settlement statements ----------------------------
class BillingPeriod(db.Model):
    """A calendar month (Kazakhstan time) closed into invoices and a settlement statement.

    Its primary key is the period's name ("2026-11"): two closes of one month cannot both
    write. Inserted with every invoice and settlement line in one transaction; never changed.
    """

    __tablename__ = "billing_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    starts_at: Mapped[int] = mapped_column(BigInteger)  # epoch seconds, inclusive
    ends_at: Mapped[int] = mapped_column(BigInteger)  # epoch seconds, exclusive
    closed_at: Mapped[int] = mapped_column(BigInteger)
    closed_by: Mapped[str] = mapped_column(String(64))
    calls_charged: Mapped[int] = mapped_column(BigInteger)
    total_tiyn: Mapped[int] = mapped_column(BigInteger)


class Invoice(db.Model):
    """What one API user owes for one closed period: frozen totals (lines in ``invoice_lines``)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("period", "api_user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # "SNM-2026-11-0001"
    period: Mapped[str] = mapped_column(ForeignKey("billing_periods.period"), index=True)
    api_user_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    #: the API user's name and BIN when the period was closed (the document never changes)
    api_user_name: Mapped[str] = mapped_column(String(300))
    api_user_bin: Mapped[str] = mapped_column(String(12))
    calls_tiyn: Mapped[int] = mapped_column(BigInteger)
    adjustments_tiyn: Mapped[int] = mapped_column(BigInteger)
    total_tiyn: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int] = mapped_column(BigInteger)


class InvoiceLine(db.Model):
    """One line of an invoice: calls (provider, API, endpoint, unit price) or an adjustment."""

    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # "calls" | "adjustment"
    provider_id: Mapped[str] = mapped_column(String(36), index=True)
    provider_name: Mapped[str] = mapped_column(String(300))
    api_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    endpoint: Mapped[str | None] = mapped_column(String(80), nullable=True)
    calls: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    unit_price_tiyn: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    adjustment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class SettlementLine(db.Model):
    """One participant's position in a closed period, netted through the operator.

    ``net_tiyn`` = ``receives_tiyn`` − ``owes_tiyn``: positive, the operator pays the
    participant; negative, the participant pays the operator. A period's nets sum to zero.
    """

    __tablename__ = "settlement_lines"
    __table_args__ = (UniqueConstraint("period", "participant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(ForeignKey("billing_periods.period"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    participant_name: Mapped[str] = mapped_column(String(300))
    participant_bin: Mapped[str] = mapped_column(String(12))
    owes_tiyn: Mapped[int] = mapped_column(BigInteger)
    receives_tiyn: Mapped[int] = mapped_column(BigInteger)
    net_tiyn: Mapped[int] = mapped_column(BigInteger)


# -- metering: the calls the resource proxy answered (billing and reports read them) -----------------
#: How the proxy's metering names what became of a call (``RoutedCall.outcome``).
ROUTED = "routed"  # the bank answered 200
BANK_REFUSED = "bank_refused:"  # + status: the bank's own 4xx answer, passed on (e.g. an unknown account)
REFUSED_BY_PLATFORM = "refused:"  # + reason: the platform refused it, or answered 502/504 for a failing bank


def answered_by_bank(outcome: object) -> object:
    """SQL: the bank answered the call itself (200, or its own 4xx): never a failure of either side."""
    return or_(outcome == ROUTED, outcome.startswith(BANK_REFUSED, autoescape=True))


class RoutedCall(db.Model):
    """One call the proxy answered once it knew the API user (written by ``resource_proxy.metering``).

    Never account data: who called (API user, client), which bank and API, which endpoint (the
    template, not the path with an account id), the status, the outcome, the latency, the consent
    and the interaction id. ``at`` is in epoch milliseconds."""

    __tablename__ = "routed_calls"

    # one row a call: 64 bits on PostgreSQL (SQLite's integer key is 64 bits and autoincrements only as INTEGER)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch milliseconds
    api_user_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    api_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    endpoint: Mapped[str] = mapped_column(String(80))  # "GET /accounts/{AccountId}/transactions"
    status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(64))  # "routed", "refused:consent_revoked", "bank_timeout"
    latency_ms: Mapped[int] = mapped_column(Integer)
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    interaction_id: Mapped[str] = mapped_column(String(64))
