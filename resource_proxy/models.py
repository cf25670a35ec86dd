"""Metering: one row per call the proxy answered, for billing and reports.

Never account data: who called (API user, client), which bank and API,
which endpoint (the template, not the path with an account id), the status,
the outcome, the latency, the consent and the interaction id.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import db


class RoutedCall(db.Model):
    __tablename__ = "routed_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
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
