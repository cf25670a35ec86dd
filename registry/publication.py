"""API publication through the sandbox: an API provider submits its API, the
conformance suite (``resource_proxy/conformance.py``, run through
``registry/conformance.py``) checks its sandbox, and only a
passing API is published to the showcase and routed by the proxy.

Statuses (docs/api-publication.md)::

    submitted ──pass──▶ published ◀──pass── suspended
        │                  │    ▲               ▲
        └─fail─▶ refused   └fail┼───────────────┘   (scheduled re-checks, ``registry/worker.py``)
                    └──pass─────┘                    (a re-check asked for after a fix)
    any ──provider or operator──▶ unpublished (off the schedule)

Every run is stored (``ApiCheckRun``, never deleted); every change of status is
audited and the provider is told in its inbox (``registry/notifications.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import or_, update

from biometrics.errors import InvalidIIN
from biometrics.iin import validate_iin
from registry.apis import (
    ACCOUNT_INFORMATION,
    ApiRegistryError,
    check_provider_may_publish,
    get_api,
    validate_base_url,
)
from registry.conformance import FAILED, SandboxTarget, SuiteReport, conformance_suite
from registry.models import (
    CHECK_TRIGGERS,
    PUBLISHED,
    REFUSED,
    SUBMITTED,
    SUSPENDED,
    UNPUBLISHED,
    ApiCheckRun,
    PublishedApi,
)
from registry.notifications import notify_participant
from senim import clock
from senim.audit import audit
from senim.database import db
from senim.metrics import record_sandbox_check

SUBMISSION, SCHEDULE, MANUAL = CHECK_TRIGGERS
#: Demo Customer One: every reference bank serves them (reference_bank/config.py DEMO_IINS),
#: so a reference bank used as a sandbox passes without further setup.
DEFAULT_SANDBOX_CUSTOMER_IIN = "900101300017"
MAX_DESCRIPTION = 1000
#: Statuses the worker re-checks on its schedule.
SCHEDULED_STATUSES = (PUBLISHED, SUSPENDED)
#: Status after a run: (status before, passed) → status after. Unpublished stays unpublished:
#: only the provider or the operator publishes it again.
NEXT_STATUS = {
    (SUBMITTED, True): PUBLISHED,
    (SUBMITTED, False): REFUSED,
    (REFUSED, True): PUBLISHED,
    (REFUSED, False): REFUSED,
    (PUBLISHED, True): PUBLISHED,
    (PUBLISHED, False): SUSPENDED,
    (SUSPENDED, True): PUBLISHED,
    (SUSPENDED, False): SUSPENDED,
    (UNPUBLISHED, True): UNPUBLISHED,
    (UNPUBLISHED, False): UNPUBLISHED,
}


@dataclass(frozen=True)
class CheckOutcome:
    """One run of the suite against an API: the API as it now is, the stored run, the report."""

    api: PublishedApi
    run: ApiCheckRun
    report: SuiteReport


def validate_description(text: str | None) -> str:
    """Plain text of 1 to ``MAX_DESCRIPTION`` characters; line breaks allowed, other control
    characters not (it is shown on the showcase as text, never as markup)."""
    text = (text or "").strip()
    if not text or len(text) > MAX_DESCRIPTION:
        raise ApiRegistryError(f"a description has 1 to {MAX_DESCRIPTION} characters")
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text):
        raise ApiRegistryError("a description is plain text: no control characters")
    return text


def check_interval() -> int:
    return current_app.extensions["senim.settings"].api_check_interval


def lease_seconds() -> int:
    """How long a claim on a check holds: longer than the slowest possible run (every call
    at the deadline), so a live worker never loses it; a dead worker's claim runs out."""
    timeout = current_app.extensions["senim.settings"].proxy_timeout
    return max(60, int(timeout * 20) + 30)


def submit_api(
    *,
    provider_id: str,
    base_url: str,
    sandbox_url: str,
    description: str,
    sandbox_customer_iin: str = DEFAULT_SANDBOX_CUSTOMER_IIN,
    standard: str = ACCOUNT_INFORMATION,
    version: str = "v1",
) -> CheckOutcome:
    """Store an API provider's API and run the conformance suite against its sandbox:
    published if it passes, refused if not. Bad input changes nothing."""
    check_provider_may_publish(provider_id, standard, version)
    base_url = validate_base_url(base_url)
    sandbox_url = validate_base_url(sandbox_url)
    description = validate_description(description)
    try:
        iin = validate_iin(sandbox_customer_iin)
    except InvalidIIN as error:
        raise ApiRegistryError(f"the sandbox test customer: {error}") from None
    now = clock.now_int()
    api = PublishedApi(
        id=str(uuid.uuid4()),
        provider_id=provider_id,
        standard=standard,
        version=version,
        base_url=base_url,
        status=SUBMITTED,
        created_at=now,
        status_changed_at=now,
        sandbox_url=sandbox_url,
        description=description,
        sandbox_customer_iin=iin,
        # claimed by the submission itself until its first check is recorded
        check_claimed_by="submission",
        check_lease_until=now + lease_seconds(),
    )
    db.session.add(api)
    db.session.commit()
    audit("api.submitted", api_id=api.id, provider_id=provider_id, standard=standard, version=version)
    return run_check(api.id, SUBMISSION)


def recheck_api(api_id: str) -> CheckOutcome:
    """Run the suite again now (asked for by the provider or the operator)."""
    api = get_api(api_id)
    if api is None:
        raise ApiRegistryError(f"no API {api_id}")
    if api.sandbox_url is None:
        raise ApiRegistryError(f"API {api_id} has no sandbox to check (it was added without one)")
    if not claim_check(api_id, "manual", due_only=False):
        raise ApiRegistryError(f"a check of API {api_id} is already running")
    audit("api.recheck_asked", api_id=api_id)
    return run_check(api_id, MANUAL)


def claim_check(api_id: str, worker_id: str, *, due_only: bool = True) -> bool:
    """Claim the API's next check for ``worker_id``, committed before the check runs.

    One conditional UPDATE: it succeeds for one claimer only, on SQLite and PostgreSQL
    alike, so two workers (or a worker and a manual re-check) never check an API at once.
    A claim whose lease ran out (its worker died) can be taken over."""
    now = clock.now_int()
    statement = update(PublishedApi).where(
        PublishedApi.id == api_id,
        or_(PublishedApi.check_lease_until.is_(None), PublishedApi.check_lease_until < now),
    )
    if due_only:
        statement = statement.where(
            PublishedApi.status.in_(SCHEDULED_STATUSES), PublishedApi.next_check_due_at <= now
        )
    result = db.session.execute(
        statement.values(check_claimed_by=worker_id[:64], check_lease_until=now + lease_seconds()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount == 1


def run_check(api_id: str, trigger: str) -> CheckOutcome:
    """Run the suite against the API's sandbox (claimed by the caller) and record the run:
    the status that follows, the health fields, the next due time, the claim released."""
    api = db.session.get(PublishedApi, api_id, populate_existing=True)
    started_at = clock.now_int()
    report = conformance_suite().run(
        SandboxTarget(
            base_url=api.sandbox_url,
            provider_id=api.provider_id,
            customer_iin=api.sandbox_customer_iin or DEFAULT_SANDBOX_CUSTOMER_IIN,
        )
    )
    finished_at = clock.now_int()
    # read again: the provider may have unpublished it while the suite ran
    db.session.refresh(api)
    before = api.status
    after = NEXT_STATUS[(before, report.passed)]
    run = ApiCheckRun(
        id=str(uuid.uuid4()),
        api_id=api.id,
        trigger=trigger,
        started_at=started_at,
        finished_at=finished_at,
        passed=report.passed,
        duration_ms=report.duration_ms,
        results=[r.as_dict() for r in report.results],
        api_status=after,
    )
    db.session.add(run)
    api.last_checked_at = finished_at
    api.last_check_passed = report.passed
    api.next_check_due_at = finished_at + check_interval() if after in SCHEDULED_STATUSES else None
    api.check_claimed_by = None
    api.check_lease_until = None
    if after != before:
        api.status = after
        api.status_changed_at = finished_at
        if after == PUBLISHED:
            api.published_at = finished_at
    if after != before or (trigger == SUBMISSION and after == REFUSED):
        _tell_provider(api, before, after, report)
    db.session.commit()
    record_sandbox_check(api.id, trigger, report.passed)
    if after != before:
        audit(
            _STATUS_EVENTS[(before, after)],
            outcome="success" if report.passed else "failure",
            api_id=api.id,
            provider_id=api.provider_id,
            trigger=trigger,
            failed_checks=report.failed_checks,
        )
    return CheckOutcome(api, run, report)


_STATUS_EVENTS = {
    (SUBMITTED, PUBLISHED): "api.published",
    (SUBMITTED, REFUSED): "api.refused",
    (REFUSED, PUBLISHED): "api.published",
    (PUBLISHED, SUSPENDED): "api.suspended",
    (SUSPENDED, PUBLISHED): "api.republished",
}


def _failures(report: SuiteReport) -> str:
    return "\n".join(f"- {r.name}: {r.detail}" for r in report.results if r.status == FAILED)


def _tell_provider(api: PublishedApi, before: str, after: str, report: SuiteReport) -> None:
    """A message in the provider's inbox: which API, what changed, which checks failed."""
    name = f"{api.standard} {api.version} API {api.id}"
    if after == PUBLISHED and before == SUSPENDED:
        kind, subject = "api.republished", f"Your {name} is published again"
        body = "It passed the sandbox's conformance suite again: the platform routes calls to it."
    elif after == PUBLISHED:
        kind, subject = "api.published", f"Your {name} is published"
        body = "It passed the sandbox's conformance suite: it is on the showcase and the platform routes calls to it."
    elif after == REFUSED:
        kind, subject = "api.refused", f"Your {name} was refused"
        body = (
            "The sandbox's conformance suite failed these checks:\n"
            f"{_failures(report)}\nFix the sandbox and ask for a re-check."
        )
    else:  # suspended
        kind, subject = "api.suspended", f"Your {name} is suspended"
        body = (
            "A scheduled check failed these checks:\n"
            f"{_failures(report)}\nThe platform does not route calls to it until a check passes; "
            f"it is checked again every {check_interval()} s."
        )
    notify_participant(api.provider_id, kind, subject, body)
