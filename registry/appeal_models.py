"""The appeals' tables (обращения): the appeal, its attachments and its history.

Times are integer seconds since the epoch (the application clock). Rows are
never deleted: an appeal ends closed, and its history is append-only.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import db


class Appeal(db.Model):
    """A question, dispute, incident or complaint filed by a participant's staff member, an
    operator or a customer; routed to a team with an SLA deadline (``registry.appeals``)."""

    __tablename__ = "appeals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: the running number (unique): shown as the human number, "A-000042"
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    category: Mapped[str] = mapped_column(String(16), index=True)  # question | dispute | incident | complaint
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), index=True)
    #: the operator team that owns it (routing table in registry.appeals)
    team: Mapped[str] = mapped_column(String(16), index=True)
    # -- who filed it: a staff member (of a participant, or an operator) or a customer --
    filer_staff_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    filer_participant_id: Mapped[str | None] = mapped_column(
        ForeignKey("participants.id"), nullable=True, index=True
    )
    filer_customer_iin: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    # -- whom it concerns, and who must answer it --
    #: the participant the appeal is about (a complaint's subject, a dispute's counterparty)
    concerns_id: Mapped[str | None] = mapped_column(ForeignKey("participants.id"), nullable=True)
    #: the participant asked to answer (and so allowed to see it): a dispute's counterparty,
    #: an incident's API provider
    addressed_to_id: Mapped[str | None] = mapped_column(
        ForeignKey("participants.id"), nullable=True, index=True
    )
    # -- what it links to (each checked: the filer is a party to it) --
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    api_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    interaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    routed_call_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # -- handling --
    assignee_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger, index=True)
    deadline_at: Mapped[int] = mapped_column(BigInteger, index=True)
    status_changed_at: Mapped[int] = mapped_column(BigInteger)
    reminded_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    escalated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # -- the resolution (the latest; every one is in the history) --
    outcome: Mapped[str | None] = mapped_column(
        String(16), nullable=True
    )  # upheld | partly_upheld | rejected
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    adjustment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)

    @property
    def number(self) -> str:
        return f"A-{self.seq:06d}"

    def __repr__(self) -> str:
        return f"<Appeal {self.number} {self.category} {self.status}>"


class AppealAttachment(db.Model):
    """A file sent with an appeal (PDF, PNG or JPEG, checked by its content); kept as sent."""

    __tablename__ = "appeal_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    appeal_id: Mapped[str] = mapped_column(ForeignKey("appeals.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))  # from the content, never as declared
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[int] = mapped_column(BigInteger)


class AppealEvent(db.Model):
    """One step of an appeal's history (filed, a comment, a status change, a reminder…): append-only."""

    __tablename__ = "appeal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    appeal_id: Mapped[str] = mapped_column(ForeignKey("appeals.id"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    #: "staff:<id>", "customer" (never the customer's IIN) or "system" (the worker)
    actor: Mapped[str] = mapped_column(String(64))
    #: filer | handler | addressed | system: the side the actor spoke for
    side: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: a comment's text, a reopening's reason, a resolution's summary
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
