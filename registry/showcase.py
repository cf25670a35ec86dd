"""The showcase: the published APIs an API user can choose from, with their owner,
standard, version, description and health, and each API's check history.

Health comes from the stored conformance runs (``api_check_runs``) of the last
``HEALTH_WINDOW`` seconds: uptime is the share of runs that passed; latency the
median and 95th percentile of the checks' durations (each check is mostly one
call to the sandbox). Neither the production nor the sandbox base URL is shown:
API users call banks only through the proxy, never at their addresses.
"""

from __future__ import annotations

import math
import statistics

from sqlalchemy import func, or_, select

from registry.apis import ApiRegistryError
from registry.conformance import NOT_RUN
from registry.models import PUBLISHED, ApiCheckRun, Participant, PublishedApi
from senim import clock
from senim.database import db

#: The health figures cover the runs of the last 24 hours...
HEALTH_WINDOW = 24 * 3600
#: ...at most this many (1,920 a day at the default interval of 45 s).
MAX_RUNS_COUNTED = 2000
MAX_QUERY = 100
MAX_HISTORY = 500


def _like_pattern(query: str) -> str:
    """The query as a LIKE pattern matching it anywhere, its own % and _ taken literally."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def showcase(query: str | None = None) -> list[dict]:
    """The published APIs (matching ``query`` in the owner's name, the description or the
    standard, case-insensitively), with their health, the owner's name first."""
    statement = (
        select(PublishedApi, Participant)
        .join(Participant, Participant.id == PublishedApi.provider_id)
        .where(PublishedApi.status == PUBLISHED)
        .order_by(Participant.name, PublishedApi.standard, PublishedApi.version, PublishedApi.id)
    )
    query = (query or "").strip()
    if len(query) > MAX_QUERY:
        raise ApiRegistryError(f"a search has at most {MAX_QUERY} characters")
    if query:
        pattern = _like_pattern(query)
        statement = statement.where(
            or_(
                func.lower(Participant.name).like(pattern, escape="\\"),
                func.lower(PublishedApi.description).like(pattern, escape="\\"),
                func.lower(PublishedApi.standard).like(pattern, escape="\\"),
            )
        )
    return [_entry(api, owner) for api, owner in db.session.execute(statement)]


def _entry(api: PublishedApi, owner: Participant) -> dict:
    return {
        "id": api.id,
        "owner": {"id": owner.id, "name": owner.name},
        "standard": api.standard,
        "version": api.version,
        "description": api.description,
        "published_at": api.published_at,
        "health": api_health(api),
    }


def api_health(api: PublishedApi) -> dict:
    """Uptime and latency of the API from its runs of the last ``HEALTH_WINDOW`` seconds."""
    since = clock.now_int() - HEALTH_WINDOW
    runs = list(
        db.session.scalars(
            select(ApiCheckRun)
            .where(ApiCheckRun.api_id == api.id, ApiCheckRun.started_at >= since)
            .order_by(ApiCheckRun.started_at.desc())
            .limit(MAX_RUNS_COUNTED)
        )
    )
    durations = sorted(
        result["duration_ms"]
        for run in runs
        for result in run.results or []
        if result.get("status") != NOT_RUN and isinstance(result.get("duration_ms"), int)
    )
    return {
        "window_seconds": HEALTH_WINDOW,
        "checks_counted": len(runs),
        "uptime_percent": round(100 * sum(r.passed for r in runs) / len(runs), 2) if runs else None,
        "latency_ms": {
            "median": round(statistics.median(durations)) if durations else None,
            "p95": _nearest_rank(durations, 95) if durations else None,
        },
        "last_checked_at": api.last_checked_at,
        "last_check_passed": api.last_check_passed,
    }


def _nearest_rank(ordered: list[int], percent: int) -> int:
    """The nearest-rank percentile of an ordered list (a value that was measured)."""
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def check_history(api_id: str, limit: int = 50) -> list[ApiCheckRun]:
    """The API's conformance runs, newest first (history is never deleted)."""
    if not isinstance(api_id, str) or len(api_id) > 36 or db.session.get(PublishedApi, api_id) is None:
        raise ApiRegistryError(f"no API {api_id}")
    if not 1 <= limit <= MAX_HISTORY:
        raise ApiRegistryError(f"a history has 1 to {MAX_HISTORY} runs")
    return list(
        db.session.scalars(
            select(ApiCheckRun)
            .where(ApiCheckRun.api_id == api_id)
            .order_by(ApiCheckRun.started_at.desc(), ApiCheckRun.finished_at.desc(), ApiCheckRun.id)
            .limit(limit)
        )
    )
