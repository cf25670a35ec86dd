"""Structured JSON audit log of security-relevant events.

Secrets never reach it, by construction: an event is a name plus fields; a
field whose name says it holds a secret is dropped, and any value that looks
like a JWT or a long random token is replaced before the line is written.
Callers pass identifiers (client_id, jti, consent id), never token values,
codes, keys, headers, images or encodings.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from senim import clock
from senim.database import db

logger = logging.getLogger("senim.audit")

# Field names that can never be logged, whatever their value.
_FORBIDDEN_FIELD = re.compile(
    r"(token|secret|password|passcode|otp|code_verifier|assertion|authorization|"
    r"dpop|cookie|private|^key$|^code$|jwk|encoding|image|frame|photo)",
    re.IGNORECASE,
)
# Values that look like a compact JWS/JWE or a long opaque secret.
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.?")
_LONG_OPAQUE = re.compile(r"[A-Za-z0-9_\-]{40,}")
REDACTED = "[redacted]"
#: Public identifiers as long as a secret: key thumbprints (RFC 7638) and key ids.
_PUBLIC_IDENTIFIER_FIELDS = frozenset({"jkt", "kid"})
_THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = _JWT_LIKE.sub(REDACTED, value)
        return _LONG_OPAQUE.sub(REDACTED, value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return redact(value)
    return _clean(str(value))


def redact(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that may be logged, with secret-looking values replaced."""
    cleaned = {}
    for key, value in fields.items():
        name = str(key)
        if _FORBIDDEN_FIELD.search(name):
            continue
        if name in _PUBLIC_IDENTIFIER_FIELDS and isinstance(value, str) and _THUMBPRINT.match(value):
            cleaned[name] = value
        else:
            cleaned[name] = _clean(value)
    return cleaned


def audit(event: str, outcome: str = "success", **fields: Any) -> dict[str, Any]:
    """Write one audit event; returns the record as written (for tests).

    The line goes to the log at once; the record is also kept for the
    database's ``audit_events`` (the operator console's audit log), written
    when the request or application context ends (``flush_audit_events``).
    """
    record: dict[str, Any] = {"ts": round(clock.now(), 3), "event": event, "outcome": outcome}
    if has_request_context():
        record["request_id"] = getattr(g, "request_id", None)
        record["remote_addr"] = request.remote_addr
        # The route's template, not the path: paths carry identifiers (account ids at the proxy).
        record["path"] = request.url_rule.rule if request.url_rule is not None else "(no route)"
    record.update(redact(fields))
    logger.info(json.dumps(record, sort_keys=True, default=str))
    if has_app_context() and "sqlalchemy" in current_app.extensions:
        g.setdefault(_PENDING, []).append(record)
    return record


# -- the audit log in the database (the operator console reads it) ------------------------------
_PENDING = "_senim_audit_pending"
#: Fields that name whom an event is about or who acted, kept in columns for filtering.
_PARTICIPANT_FIELDS = ("participant_id", "api_user_id", "provider_id")
_ACTOR_FIELDS = ("by", "actor_id", "staff_id")


class AuditEvent(db.Model):
    """One audit record, as logged (already redacted), with columns to filter by."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[int] = mapped_column(BigInteger, index=True)  # milliseconds since the epoch
    event: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    participant_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    record: Mapped[dict] = mapped_column(JSON)


def _first_text(record: dict[str, Any], names: tuple[str, ...], limit: int) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value:
            return value[:limit]
    return None


def flush_audit_events() -> int:
    """Write the audit records kept in this context to ``audit_events``; how many were written.

    Called when a request ends (after its own transaction: anything it left
    uncommitted is rolled back first, as it would have been anyway) and when
    an application context ends. A failure here is logged, never raised: the
    log line was already written.
    """
    pending = g.pop(_PENDING, None) if has_app_context() else None
    if not pending:
        return 0
    rows = [
        {
            "at": int(record["ts"] * 1000),
            "event": str(record["event"])[:64],
            "outcome": str(record["outcome"])[:16],
            "participant_id": _first_text(record, _PARTICIPANT_FIELDS, 36),
            "actor_id": _first_text(record, _ACTOR_FIELDS, 64),
            "request_id": _first_text(record, ("request_id",), 64),
            "record": json.loads(json.dumps(record, default=str)),
        }
        for record in pending
    ]
    try:
        db.session.rollback()
        db.session.execute(AuditEvent.__table__.insert(), rows)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the audit log's database copy must never break a request
        db.session.rollback()
        logger.warning(json.dumps({"event": "audit.store_failed", "records": len(rows)}))
        return 0
    return len(rows)


def init_audit_store(app: Flask) -> None:
    """Flush kept records at the end of every request and application context."""
    app.teardown_request(lambda _exc: flush_audit_events())
    app.teardown_appcontext(lambda _exc: flush_audit_events())


def configure_audit_logging(level: str, path: str | None) -> None:
    """Audit lines go to stderr, or to a file when SENIM_AUDIT_LOG names one."""
    logger.setLevel(level)
    logger.propagate = False
    if logger.handlers:
        return
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)


def find_audit_events(
    *,
    event: str | None = None,
    outcome: str | None = None,
    participant_id: str | None = None,
    actor_id: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events newest first, filtered; ``event`` matches a name or its prefix (``staff.``)."""
    from sqlalchemy import select

    query = select(AuditEvent)
    if event:
        query = query.where(AuditEvent.event.startswith(event[:64], autoescape=True))
    if outcome:
        query = query.where(AuditEvent.outcome == outcome[:16])
    if participant_id:
        query = query.where(AuditEvent.participant_id == participant_id[:36])
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id[:64])
    if since_ms is not None:
        query = query.where(AuditEvent.at >= since_ms)
    if until_ms is not None:
        query = query.where(AuditEvent.at < until_ms)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 500)))))
