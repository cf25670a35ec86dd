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

from flask import g, has_request_context, request

from senim import clock

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
    """Write one audit event; returns the record as written (for tests)."""
    record: dict[str, Any] = {"ts": round(clock.now(), 3), "event": event, "outcome": outcome}
    if has_request_context():
        record["request_id"] = getattr(g, "request_id", None)
        record["remote_addr"] = request.remote_addr
        # The route's template, not the path: paths carry identifiers (account ids at the proxy).
        record["path"] = request.url_rule.rule if request.url_rule is not None else "(no route)"
    record.update(redact(fields))
    logger.info(json.dumps(record, sort_keys=True, default=str))
    return record


def configure_audit_logging(level: str, path: str | None) -> None:
    """Audit lines go to stderr, or to a file when SENIM_AUDIT_LOG names one."""
    logger.setLevel(level)
    logger.propagate = False
    if logger.handlers:
        return
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
