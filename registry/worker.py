"""The worker that re-checks published APIs on a schedule (``senim worker``).

Each round takes every published or suspended API whose next check is due
(``next_check_due_at``, every ``SENIM_API_CHECK_INTERVAL`` seconds after the last),
claims it (``claim_check``: a conditional UPDATE, committed before the suite runs,
so several worker processes never check one API at once), and runs the suite
(``run_check``): a failure suspends a published API, a pass publishes a suspended
one again, and the provider is told either way. Each round also closes last
month's billing period once it has ended (``registry.billing.close_previous_period``:
one primary-key lookup when it is closed already).

Each round also reminds and escalates appeals whose SLA deadline is near or past
(``registry.appeals.run_appeal_deadlines``: once each, claimed by a conditional UPDATE).

Tests call ``run_due_checks`` (one round) with the settable clock; ``run_worker``
loops until its stop event is set, waiting on the event, never sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from flask import Flask
from sqlalchemy import or_, select

from registry.billing import close_previous_period
from registry.models import PublishedApi
from registry.publication import SCHEDULE, SCHEDULED_STATUSES, CheckOutcome, claim_check, run_check
from senim import clock
from senim.database import db

logger = logging.getLogger(__name__)

#: APIs checked in one round at most (the rest are still due on the next round).
ROUND_LIMIT = 100
#: Seconds between two rounds of a looping worker.
POLL_SECONDS = 5.0


def new_worker_id() -> str:
    """Names the claims of this process: host, pid and a random part (at most 64 characters)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def due_api_ids(limit: int = ROUND_LIMIT) -> list[str]:
    """The APIs whose scheduled check is due and unclaimed, the most overdue first."""
    now = clock.now_int()
    return list(
        db.session.scalars(
            select(PublishedApi.id)
            .where(
                PublishedApi.status.in_(SCHEDULED_STATUSES),
                PublishedApi.next_check_due_at <= now,
                or_(PublishedApi.check_lease_until.is_(None), PublishedApi.check_lease_until < now),
            )
            .order_by(PublishedApi.next_check_due_at, PublishedApi.id)
            .limit(limit)
        )
    )


def run_due_checks(worker_id: str | None = None, *, limit: int = ROUND_LIMIT) -> list[CheckOutcome]:
    """One round: check every due API this worker manages to claim; their outcomes."""
    worker_id = worker_id or new_worker_id()
    outcomes = []
    for api_id in due_api_ids(limit):
        if not claim_check(api_id, worker_id):
            continue  # another worker claimed it between the query and the claim
        outcomes.append(run_check(api_id, SCHEDULE))
    return outcomes


def run_appeal_round() -> None:
    """The appeals' reminders and escalations due now (``registry.appeals.run_appeal_deadlines``);
    a failure is logged and tried again on the next round."""
    from registry.appeals import run_appeal_deadlines

    try:
        run_appeal_deadlines()
    except Exception:
        logger.exception("a round of appeal deadlines failed")
        db.session.rollback()
    finally:
        db.session.remove()


def run_worker(
    app: Flask,
    stop: threading.Event,
    *,
    once: bool = False,
    poll_seconds: float = POLL_SECONDS,
    worker_id: str | None = None,
) -> int:
    """Run rounds until ``stop`` is set (or one round with ``once``); the checks run in all."""
    worker_id = worker_id or new_worker_id()
    checked = 0
    while not stop.is_set():
        with app.app_context():
            try:
                checked += len(run_due_checks(worker_id))
            except Exception:  # the next round tries again; the worker keeps running
                logger.exception("a round of API checks failed")
                db.session.rollback()
            try:
                close_previous_period()
            except Exception:  # the next round tries again
                logger.exception("closing last month's billing period failed")
                db.session.rollback()
            finally:
                db.session.remove()
            run_appeal_round()
        if once:
            break
        stop.wait(poll_seconds)
    return checked
