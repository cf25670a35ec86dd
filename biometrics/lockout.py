"""Throttling of failed biometric attempts per IIN (NIST SP 800-63B §5.2.2).

After ``FREE_FAILURES`` consecutive failures the next attempt must wait
``FIRST_DELAY`` seconds, and the wait doubles with each further failure (up
to ``MAX_DELAY``). A success resets the count. Counted in the database, so
every worker and node sees the same state; every lock is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from biometrics.models import BiometricThrottle
from senim import clock
from senim.audit import audit
from senim.database import db

FREE_FAILURES = 5
FIRST_DELAY = 30
MAX_DELAY = 24 * 3600


class TooManyFailures(Exception):
    """Biometric attempts for this IIN are paused; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed attempts; try again in {retry_after} seconds.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottleState:
    consecutive_failures: int
    locked_until: int


def delay_after(failures: int) -> int:
    """Seconds to wait after ``failures`` consecutive failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), MAX_DELAY)


def check_not_throttled(iin: str) -> None:
    """Refuse an attempt while the IIN is paused."""
    row = db.session.get(BiometricThrottle, iin)
    now = clock.now_int()
    if row is not None and row.locked_until > now:
        raise TooManyFailures(row.locked_until - now)


def record_failure(iin: str) -> ThrottleState:
    """Count a failed attempt (atomically) and pause the IIN when due."""
    now = clock.now_int()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = BiometricThrottle.__table__
    db.session.execute(
        insert(table)
        .values(iin=iin, consecutive_failures=0, locked_until=0, last_failure_at=None)
        .on_conflict_do_nothing()
    )
    failures = db.session.execute(
        update(table)
        .where(table.c.iin == iin)
        .values(consecutive_failures=table.c.consecutive_failures + 1, last_failure_at=now)
        .returning(table.c.consecutive_failures)
    ).scalar_one()
    delay = delay_after(failures)
    locked_until = now + delay if delay else 0
    if delay:
        db.session.execute(update(table).where(table.c.iin == iin).values(locked_until=locked_until))
        audit("biometric.throttled", outcome="refused", iin=iin, failures=failures, retry_after=delay)
    db.session.commit()
    return ThrottleState(failures, locked_until)


def record_success(iin: str) -> None:
    """A successful attempt clears the count."""
    table = BiometricThrottle.__table__
    db.session.execute(update(table).where(table.c.iin == iin).values(consecutive_failures=0, locked_until=0))
    db.session.commit()


def throttle_state(iin: str) -> ThrottleState:
    row = db.session.execute(
        select(BiometricThrottle.consecutive_failures, BiometricThrottle.locked_until).where(
            BiometricThrottle.iin == iin
        )
    ).first()
    return ThrottleState(*row) if row else ThrottleState(0, 0)
