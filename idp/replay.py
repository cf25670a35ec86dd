"""Single-use identifiers (``jti`` of client assertions, DPoP proofs and
request objects), shared by every worker and node through the database.

``INSERT … ON CONFLICT DO NOTHING RETURNING`` makes check-and-record atomic:
of two concurrent requests with the same ``jti``, exactly one inserts the row.

The token endpoint defers these writes (``defer_until_write_phase``): its
checks only read, and every write of the request (these rows, the code or
refresh token claim, the issued tokens) happens in one short transaction at
the end, so SQLite's single writer lock is held for a moment, not for the
whole request. Everywhere else an identifier is recorded as soon as it is
checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import g, has_app_context
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from idp.errors import Refusal
from idp.models import SeenJti
from senim.database import core, db

_TABLE = SeenJti.__table__


@dataclass(frozen=True)
class _Pending:
    namespace: str
    jti_hash: str
    expires_at: int
    refusal: type[Refusal]


_STATEMENTS = {
    dialect: insert(_TABLE)
    .on_conflict_do_nothing()
    # RETURNING yields only inserted rows (rowcount is not reliable for
    # ON CONFLICT across drivers).
    .returning(_TABLE.c.namespace, _TABLE.c.jti_hash)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _insert_new(rows: list[dict]) -> set[tuple[str, str]]:
    """Insert the rows not seen before; the (namespace, hash) pairs inserted."""
    dialect = db.session.get_bind().dialect.name
    stmt = _STATEMENTS["postgresql" if dialect == "postgresql" else "sqlite"]
    if len(rows) == 1:
        return {(ns, h) for ns, h in core(stmt.values(rows[0]))}
    return {(ns, h) for ns, h in core(stmt, rows)}


def _hash(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def consume_jti(namespace: str, jti: str, expires_at: int) -> bool:
    """Record ``jti`` in ``namespace`` now; False if it was seen before."""
    jti_hash = _hash(jti)
    row = {"namespace": namespace, "jti_hash": jti_hash, "expires_at": expires_at}
    return (namespace, jti_hash) in _insert_new([row])


def use_once(namespace: str, jti: str, expires_at: int, refusal: type[Refusal]) -> None:
    """Accept ``jti`` once: raise ``refusal`` if it was used before (now, or
    in the write phase when the request defers its writes)."""
    if has_app_context() and g.get("senim_replay_deferred"):
        g.senim_replay_pending.append(_Pending(namespace, _hash(jti), expires_at, refusal))
        return
    if not consume_jti(namespace, jti, expires_at):
        raise refusal()


def defer_until_write_phase() -> None:
    """From now on in this request, single-use identifiers are recorded by
    ``record_deferred``."""
    g.senim_replay_deferred = True
    g.senim_replay_pending = []


def record_deferred() -> None:
    """Record every deferred identifier in one statement; raise the refusal
    of the first one that was used before."""
    pending: list[_Pending] = g.get("senim_replay_pending") or []
    g.senim_replay_pending = []
    if not pending:
        return
    rows = [{"namespace": p.namespace, "jti_hash": p.jti_hash, "expires_at": p.expires_at} for p in pending]
    inserted = _insert_new(rows)
    for item in pending:
        if (item.namespace, item.jti_hash) not in inserted:
            raise item.refusal()


def purge_expired(now: int) -> int:
    """Forget identifiers whose tokens have expired anyway; returns how many."""
    result = db.session.execute(delete(SeenJti).where(SeenJti.expires_at < now))
    return result.rowcount or 0


__all__ = ["consume_jti", "defer_until_write_phase", "purge_expired", "record_deferred", "use_once"]
