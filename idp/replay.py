"""Single-use identifiers (``jti`` of client assertions, DPoP proofs and
request objects), shared by every worker and node through the database.

``INSERT … ON CONFLICT DO NOTHING`` makes the check-and-record atomic: of two
concurrent requests with the same ``jti``, exactly one inserts the row.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from idp.models import SeenJti
from senim.database import db


def consume_jti(namespace: str, jti: str, expires_at: int) -> bool:
    """Record ``jti`` in ``namespace``; False if it was seen before."""
    jti_hash = hashlib.sha256(jti.encode()).hexdigest()
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(SeenJti.__table__)
        .values(namespace=namespace, jti_hash=jti_hash, expires_at=expires_at)
        .on_conflict_do_nothing()
        .returning(SeenJti.__table__.c.jti_hash)
    )
    # RETURNING yields the row only when it was inserted (rowcount is not
    # reliable for ON CONFLICT across drivers).
    return db.session.execute(stmt).first() is not None


def purge_expired(now: int) -> int:
    """Forget identifiers whose tokens have expired anyway; returns how many."""
    result = db.session.execute(delete(SeenJti).where(SeenJti.expires_at < now))
    return result.rowcount or 0
