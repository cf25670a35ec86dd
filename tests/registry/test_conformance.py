"""Publication through the sandbox: a correct bank passes the conformance suite and is
published; a bank broken in one way is refused with exactly that check failed."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from reference_bank import app as reference_bank_app
from reference_bank.config import DEMO_IINS
from registry.apis import ApiRegistryError, published_api
from registry.conformance import FAILED, NOT_RUN, PASSED
from registry.models import PUBLISHED, REFUSED, ApiCheckRun, PublishedApi
from registry.notifications import list_notifications
from registry.publication import DEFAULT_SANDBOX_CUSTOMER_IIN, recheck_api, submit_api
from resource_proxy.conformance import CHECK_NAMES
from resource_proxy.standard import errors as standard_errors
from senim.database import db
from tests.registry.conftest import Switchable, answering, reference_bank, rewriting, serve
from tests.resource_proxy.conftest import ScriptedBank, closed_port

PRODUCTION = "https://api.bank.kz/ob/v1"


def submit(provider: str, sandbox_url: str, **overrides: object):
    params = {
        "provider_id": provider,
        "base_url": PRODUCTION,
        "description": "Accounts, balances and transactions of retail customers",
    }
    params.update(overrides)
    return submit_api(sandbox_url=sandbox_url, **params)


def statuses(report) -> dict[str, str]:
    return {r.name: r.status for r in report.results}


def expect(failed: set[str], not_run: set[str] = frozenset()) -> dict[str, str]:
    return {
        name: FAILED if name in failed else NOT_RUN if name in not_run else PASSED for name in CHECK_NAMES
    }


ACCOUNT_DEPENDENT = {
    "account_by_id",
    "balances_shape",
    "transactions_shape",
    "transactions_basic_hides_detail",
    "transactions_paging",
}


def test_the_default_sandbox_customer_is_one_every_reference_bank_serves() -> None:
    assert DEFAULT_SANDBOX_CUSTOMER_IIN in DEMO_IINS


def test_a_reference_bank_passes_the_whole_suite_and_is_published(app: Flask, provider: str, clock) -> None:
    bank = reference_bank(app, provider, clock)
    with serve(bank) as url:
        outcome = submit(provider, url)
    assert statuses(outcome.report) == expect(failed=set())
    assert outcome.api.status == PUBLISHED and outcome.api.published_at is not None
    assert published_api(provider).id == outcome.api.id  # the proxy routes it now
    assert outcome.api.last_check_passed is True
    assert outcome.api.next_check_due_at == outcome.api.last_checked_at + 45
    [run] = db.session.scalars(select(ApiCheckRun)).all()
    assert (run.trigger, run.passed, run.api_status) == ("submission", True, PUBLISHED)
    assert [r["name"] for r in run.results] == list(CHECK_NAMES)
    assert [n.kind for n in list_notifications(provider)] == ["api.published"]
    # the stored results name checks and fields, never the sandbox's data
    stored = json.dumps(run.results)
    data = bank.config["BANK_DATA"]
    for account in data.accounts.values():
        assert account.account_id not in stored and account.iban not in stored
    assert DEFAULT_SANDBOX_CUSTOMER_IIN not in stored


def _without_interaction_id(environ: dict, status: str, headers: list, body: bytes) -> tuple:
    return status, [(k, v) for k, v in headers if k.lower() != "x-fapi-interaction-id"], body


def _server_error_instead_of_404(environ: dict, status: str, headers: list, body: bytes) -> tuple:
    if not status.startswith("404"):
        return status, headers, body
    interaction_id = dict((k.lower(), v) for k, v in headers)["x-fapi-interaction-id"]
    error = standard_errors.error_body(500, interaction_id, "failed", standard_errors.UNEXPECTED_ERROR)
    return "500 INTERNAL SERVER ERROR", headers, json.dumps(error).encode()


def _links_elsewhere(environ: dict, status: str, headers: list, body: bytes) -> tuple:
    if environ["PATH_INFO"].endswith("/transactions"):
        body = body.replace(b"http://127.0.0.1:", b"https://elsewhere.example:")
    return status, headers, body


def _page_ignored(inner: Callable) -> Callable:
    """Serves page 1 whatever page is asked: following Links.Next repeats the first page."""

    def app(environ: dict, start_response: Callable) -> object:
        if environ["PATH_INFO"].endswith("/transactions"):
            environ = {**environ, "QUERY_STRING": ""}
        return inner(environ, start_response)

    return app


def _open_without_assertion(inner: Callable) -> Callable:
    """Answers 200 (an empty account list in the standard's shape) when no assertion is sent."""
    empty = answering(
        "200 OK",
        {"Data": {"Account": []}, "Links": {"Self": "http://127.0.0.1/accounts"}, "Meta": {"TotalPages": 1}},
    )

    def app(environ: dict, start_response: Callable) -> object:
        return (inner if environ.get("HTTP_AUTHORIZATION") else empty)(environ, start_response)

    return app


@pytest.mark.parametrize(
    ("broken", "failed", "not_run"),
    [
        pytest.param(
            lambda bank: rewriting(bank, _without_interaction_id),
            {"interaction_id_echoed"},
            set(),
            id="no-interaction-id-echo",
        ),
        pytest.param(
            _open_without_assertion, {"refuses_missing_assertion"}, set(), id="200-without-assertion"
        ),
        pytest.param(_page_ignored, {"transactions_paging"}, set(), id="paging-repeats-page-1"),
        pytest.param(
            lambda bank: rewriting(bank, _links_elsewhere),
            {"transactions_paging"},
            set(),
            id="links-elsewhere",
        ),
        pytest.param(
            lambda bank: rewriting(bank, _server_error_instead_of_404),
            {"unknown_account_404"},
            set(),
            id="500-instead-of-404",
        ),
    ],
)
def test_a_bank_broken_in_one_way_is_refused_with_that_check_named(
    app: Flask, provider: str, clock, broken: Callable, failed: set, not_run: set
) -> None:
    with serve(broken(reference_bank(app, provider, clock))) as url:
        outcome = submit(provider, url)
    assert statuses(outcome.report) == expect(failed, not_run)
    _assert_refused(outcome, provider, failed)


def _assert_refused(outcome, provider: str, failed: set) -> None:
    assert outcome.api.status == REFUSED and outcome.api.published_at is None
    assert published_api(provider) is None  # never routed
    assert outcome.api.next_check_due_at is None  # a refused API is not on the schedule
    [notification] = list_notifications(provider)
    assert notification.kind == "api.refused"
    assert all(name in notification.body for name in failed)


def test_answers_outside_the_standard_fail_the_shape_checks(app: Flask, provider: str, clock) -> None:
    with serve(reference_bank(app, provider, clock, fault="malformed")) as url:
        outcome = submit(provider, url)
    failed = {"accounts_detail_shape", "accounts_basic_hides_detail"}
    assert statuses(outcome.report) == expect(failed, not_run=ACCOUNT_DEPENDENT)
    detail = next(r.detail for r in outcome.report.results if r.name == "accounts_detail_shape")
    assert detail == "field data, links not allowed in /; field Data, Links, Meta missing in /"
    _assert_refused(outcome, provider, failed)


def test_detail_fields_under_a_basic_permission_fail_the_basic_checks(
    app: Flask, provider: str, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a bank that forgets to shape accounts by the permissions
    monkeypatch.setattr(reference_bank_app, "shape_account", lambda account, permissions: dict(account))
    with serve(reference_bank(app, provider, clock)) as url:
        outcome = submit(provider, url)
    assert statuses(outcome.report) == expect({"accounts_basic_hides_detail"})
    detail = next(r.detail for r in outcome.report.results if r.name == "accounts_basic_hides_detail")
    assert "field Account present in /Data/Account/0 under ReadAccountsBasic" in detail
    _assert_refused(outcome, provider, {"accounts_basic_hides_detail"})


def test_a_500_on_every_call_fails_the_data_checks_and_the_404(app: Flask, provider: str, clock) -> None:
    with serve(reference_bank(app, provider, clock, fault="error")) as url:
        outcome = submit(provider, url)
    failed = {"accounts_detail_shape", "accounts_basic_hides_detail", "unknown_account_404"}
    assert statuses(outcome.report) == expect(failed, not_run=ACCOUNT_DEPENDENT)
    detail = next(r.detail for r in outcome.report.results if r.name == "unknown_account_404")
    assert detail == "GET /accounts/{AccountId} for an unknown account answered 500, not 404"


def test_a_sandbox_slower_than_the_sla_fails_it_and_the_rest_is_not_run(provider: str, sla: float) -> None:
    bank = ScriptedBank()
    body = b'{"Data": {"Account": []}}'
    bank.at_once = ScriptedBank.head("200 OK", len(body))
    bank.trickled = body  # a byte every 0.3 s: the whole answer comes long after 0.25 s
    try:
        outcome = submit(provider, bank.base_url)
    finally:
        bank.stop()
    expected = {name: NOT_RUN for name in CHECK_NAMES}
    expected.update(sandbox_reachable=PASSED, answers_within_sla=FAILED)
    assert statuses(outcome.report) == expected
    detail = next(r.detail for r in outcome.report.results if r.name == "answers_within_sla")
    assert "within 0.25 s" in detail
    _assert_refused(outcome, provider, {"answers_within_sla"})


def test_a_sandbox_that_is_down_fails_reachability_and_the_rest_is_not_run(provider: str) -> None:
    outcome = submit(provider, f"http://127.0.0.1:{closed_port()}")
    expected = {name: NOT_RUN for name in CHECK_NAMES}
    expected["sandbox_reachable"] = FAILED
    assert statuses(outcome.report) == expected
    assert all(r.detail == "not run: sandbox_reachable failed" for r in outcome.report.results[1:])
    _assert_refused(outcome, provider, {"sandbox_reachable"})


def test_a_refused_api_fixed_and_rechecked_is_published_and_history_is_kept(
    app: Flask, provider: str, clock
) -> None:
    sandbox = Switchable(reference_bank(app, provider, clock))
    sandbox.broken = answering("503 Service Unavailable", {"down": True})
    with serve(sandbox) as url:
        refused = submit(provider, url)
        assert refused.api.status == REFUSED
        sandbox.broken = None
        clock.advance(60)
        fixed = recheck_api(refused.api.id)
    assert fixed.report.passed and fixed.api.status == PUBLISHED
    assert published_api(provider).id == refused.api.id
    runs = db.session.scalars(select(ApiCheckRun).order_by(ApiCheckRun.started_at)).all()
    assert [(r.trigger, r.passed, r.api_status) for r in runs] == [
        ("submission", False, REFUSED),
        ("manual", True, PUBLISHED),
    ]
    assert [n.kind for n in list_notifications(provider)] == ["api.published", "api.refused"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"description": ""}, "description"),
        ({"description": "x" * 1001}, "description"),
        ({"description": "a\x00b"}, "control characters"),
        ({"sandbox_customer_iin": "900101300018"}, "check digit"),
        ({"sandbox_url": "http://sandbox.bank.kz"}, "https"),
        ({"base_url": "ftp://bank.kz"}, "http"),
        ({"version": "v2"}, "unknown standard"),
    ],
)
def test_a_bad_submission_is_refused_and_changes_nothing(
    provider: str, overrides: dict, message: str
) -> None:
    params = {"sandbox_url": "http://127.0.0.1:1", **overrides}
    with pytest.raises(ApiRegistryError, match=message):
        submit(provider, **params)
    assert db.session.scalar(select(func.count()).select_from(PublishedApi)) == 0
    assert list_notifications(provider) == []


def test_only_an_active_api_provider_submits(app: Flask) -> None:
    with pytest.raises(ApiRegistryError, match="no participant"):
        submit("00000000-0000-0000-0000-000000000000", "http://127.0.0.1:1")


def test_an_api_without_a_sandbox_cannot_be_rechecked(provider: str) -> None:
    from registry.apis import add_api

    api = add_api(provider_id=provider, base_url=PRODUCTION, publish=True)
    with pytest.raises(ApiRegistryError, match="no sandbox"):
        recheck_api(api.id)
    with pytest.raises(ApiRegistryError, match="no API"):
        recheck_api("nope")
