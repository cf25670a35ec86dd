"""The worker's scheduled re-checks: a published bank that breaks is suspended by one round
(the proxy stops routing to it), its provider told; it is published again when it passes."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from flask import Flask
from sqlalchemy import select, update

from registry.apis import published_api, set_published
from registry.models import PUBLISHED, SUSPENDED, UNPUBLISHED, ApiCheckRun, PublishedApi
from registry.notifications import list_notifications
from registry.publication import DEFAULT_SANDBOX_CUSTOMER_IIN, claim_check, lease_seconds, submit_api
from registry.worker import due_api_ids, run_due_checks, run_worker
from senim.database import db
from tests.registry.conftest import Switchable, answering, reference_bank, serve
from tests.registry.test_participants_cli import BANK_BIN, _add, senim  # noqa: F401
from tests.resource_proxy.conftest import Platform, assert_refused, closed_port, platform  # noqa: F401

BROKEN = answering("500 INTERNAL SERVER ERROR", {"error": "down"})


@pytest.fixture
def bank_config(clock) -> dict:
    """The platform's banks on the settable clock: the proxy's assertions stay fresh for them
    when a test moves the clock to the next scheduled check."""
    return {"now": clock.now}


@pytest.fixture
def sandbox(app: Flask, provider: str, clock):
    """A published API whose sandbox (a reference bank) a test can break and mend."""
    switchable = Switchable(reference_bank(app, provider, clock))
    with serve(switchable) as url:
        outcome = submit_api(provider_id=provider, base_url=url, sandbox_url=url, description="Accounts")
        assert outcome.api.status == PUBLISHED
        switchable.api_id = outcome.api.id
        yield switchable


def test_nothing_is_checked_before_it_is_due(sandbox: Switchable, clock) -> None:
    assert run_due_checks("w1") == []
    clock.advance(44)
    assert run_due_checks("w1") == []
    clock.advance(1)
    [outcome] = run_due_checks("w1")
    assert (outcome.run.trigger, outcome.api.status) == ("schedule", PUBLISHED)
    assert outcome.api.next_check_due_at == int(clock.now()) + 45


def test_a_published_bank_that_breaks_is_suspended_by_one_round_and_republished_when_it_passes(
    app: Flask,
    platform: Platform,  # noqa: F811
    clock,
) -> None:
    _, token = platform.token()
    assert platform.accounts(token)
    api_id = platform.apis[platform.bank]
    sandbox = Switchable(reference_bank(app, platform.bank, clock))
    with serve(sandbox) as url:
        # the platform's first bank now has a sandbox, and its check is due
        db.session.execute(
            update(PublishedApi)
            .where(PublishedApi.id == api_id)
            .values(
                sandbox_url=url,
                sandbox_customer_iin=DEFAULT_SANDBOX_CUSTOMER_IIN,
                next_check_due_at=int(clock.now()),
            )
        )
        db.session.commit()
        sandbox.broken = BROKEN
        [outcome] = run_due_checks("w1")
        assert outcome.api.status == SUSPENDED and "accounts_detail_shape" in outcome.report.failed_checks
        assert published_api(platform.bank) is None
        assert_refused(
            platform.call("/accounts", token), 403, "KZ.SENIM.Api.NotPublished", "refused:api_not_published"
        )
        [suspended] = list_notifications(platform.bank)
        assert suspended.kind == "api.suspended" and "accounts_detail_shape" in suspended.body

        # still broken on the next round: suspended, no second notification
        clock.advance(45)
        [outcome] = run_due_checks("w1")
        assert outcome.api.status == SUSPENDED
        assert len(list_notifications(platform.bank)) == 1

        sandbox.broken = None
        clock.advance(45)
        [outcome] = run_due_checks("w1")
    assert outcome.api.status == PUBLISHED
    assert [n.kind for n in list_notifications(platform.bank)] == ["api.republished", "api.suspended"]
    assert platform.accounts(token)  # routed again
    runs = db.session.scalars(select(ApiCheckRun).order_by(ApiCheckRun.started_at)).all()
    assert [(r.trigger, r.api_status) for r in runs] == [
        ("schedule", SUSPENDED),
        ("schedule", SUSPENDED),
        ("schedule", PUBLISHED),
    ]


def test_two_claims_of_the_same_api_in_one_round_do_not_both_run(sandbox: Switchable, clock) -> None:
    clock.advance(45)
    assert due_api_ids() == [sandbox.api_id]
    assert claim_check(sandbox.api_id, "w1") is True
    assert claim_check(sandbox.api_id, "w2") is False
    # w1 holds it: another worker's round skips it
    assert run_due_checks("w2") == []
    # a claim whose worker died runs out, and is taken over
    clock.advance(lease_seconds() + 1)
    [outcome] = run_due_checks("w2")
    assert outcome.api.check_claimed_by is None and outcome.api.check_lease_until is None


def test_an_unpublished_api_stays_out_of_the_schedule(sandbox: Switchable, clock) -> None:
    set_published(sandbox.api_id, False)
    clock.advance(3600)
    assert run_due_checks("w1") == []
    # published again by the operator: checked on the next round
    set_published(sandbox.api_id, True)
    [outcome] = run_due_checks("w1")
    assert outcome.api.status == PUBLISHED


def test_an_api_unpublished_while_its_check_runs_stays_unpublished(sandbox: Switchable, clock) -> None:
    clock.advance(45)
    assert claim_check(sandbox.api_id, "w1")
    set_published(sandbox.api_id, False)
    from registry.publication import run_check

    outcome = run_check(sandbox.api_id, "schedule")
    assert outcome.api.status == UNPUBLISHED and outcome.api.next_check_due_at is None


def test_the_loop_runs_rounds_until_stopped(app: Flask, sandbox: Switchable, clock) -> None:
    stop = threading.Event()
    clock.advance(45)
    assert run_worker(app, stop, once=True, worker_id="w1") == 1
    stop.set()
    assert run_worker(app, stop, worker_id="w1") == 0  # a stopped worker runs no round


def test_senim_worker_once_suspends_a_published_api_whose_sandbox_is_down(senim, tmp_path) -> None:  # noqa: F811
    bank = json.loads(_add(senim, "Altyn", BANK_BIN, "api_provider").output)["id"]
    added = json.loads(
        senim("apis", "add", "--provider", bank, "--base-url", "http://127.0.0.1:8101", "--publish").output
    )
    with sqlite3.connect(tmp_path / "senim.db") as connection:
        connection.execute(
            "UPDATE published_apis SET sandbox_url = ?, sandbox_customer_iin = ?, next_check_due_at = 0",
            (f"http://127.0.0.1:{closed_port()}", DEFAULT_SANDBOX_CUSTOMER_IIN),
        )
    ran = senim("worker", "--once")
    assert ran.exit_code == 0, ran.output
    assert "1 API check(s) run" in ran.output
    [listed] = [json.loads(line) for line in senim("apis", "list").output.splitlines()]
    assert (listed["status"], listed["last_check_passed"]) == ("suspended", False)
    [run] = [json.loads(line) for line in senim("apis", "checks", added["id"]).output.splitlines()]
    assert run["trigger"] == "schedule" and run["results"][0]["name"] == "sandbox_reachable"
    # nothing more is due: a second round runs nothing
    assert "0 API check(s) run" in senim("worker", "--once").output
