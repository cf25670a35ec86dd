"""The showcase: published APIs searchable by owner, description and standard, with health
figures from the stored check runs; its JSON API and OpenAPI document; the inbox."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate

from registry.apis import ApiRegistryError, add_api, set_published
from registry.models import ApiCheckRun
from registry.notifications import NotificationError, list_notifications, mark_read, notify_participant
from registry.openapi import PathGroup, registry_openapi_document
from registry.participants import API_PROVIDER, add_participant
from registry.showcase import HEALTH_WINDOW, api_health, check_history, showcase
from senim.database import db
from tests.support.consents import BANK_BINS


def _publish(name: str, bin_: str, description: str, *, published: bool = True) -> str:
    owner = add_participant(name=name, bin=bin_, roles=[API_PROVIDER]).id
    api = add_api(provider_id=owner, base_url="https://api.bank.kz/ob/v1", publish=published)
    api.description = description
    db.session.commit()
    return api.id


def _runs(api_id: str, now: float, outcomes: list[tuple[bool, list[int]]], age: int = 60) -> None:
    """Stored runs, ``age`` seconds apart going back from now: (passed, check durations)."""
    for i, (passed, durations) in enumerate(outcomes):
        at = int(now) - i * age
        results = [
            {"name": f"check_{j}", "status": "passed", "passed": True, "detail": "", "duration_ms": d}
            for j, d in enumerate(durations)
        ]
        results.append(
            {"name": "skipped", "status": "not_run", "passed": False, "detail": "", "duration_ms": 0}
        )
        db.session.add(
            ApiCheckRun(
                id=str(uuid.uuid4()),
                api_id=api_id,
                trigger="schedule",
                started_at=at,
                finished_at=at,
                passed=passed,
                duration_ms=sum(durations),
                results=results,
                api_status="published",
            )
        )
    db.session.commit()


@pytest.fixture
def listed(app: Flask) -> dict[str, str]:
    return {
        "altyn": _publish("Altyn Bank JSC", BANK_BINS[0], "Retail accounts, 100% of cards"),
        "dala": _publish("Dala Bank JSC", BANK_BINS[1], "Corporate accounts and balances"),
        "nur": _publish("Nur Bank JSC", BANK_BINS[2], "Hidden while unpublished", published=False),
    }


def test_the_showcase_lists_only_published_apis_with_their_owner(listed: dict) -> None:
    entries = showcase()
    assert [e["owner"]["name"] for e in entries] == ["Altyn Bank JSC", "Dala Bank JSC"]
    first = entries[0]
    assert (first["standard"], first["version"], first["description"]) == (
        "account-information",
        "v1",
        "Retail accounts, 100% of cards",
    )
    assert "base_url" not in first and "sandbox_url" not in first  # API users call through the proxy


@pytest.mark.parametrize(
    ("query", "owners"),
    [
        ("dala", ["Dala Bank JSC"]),
        ("CORPORATE", ["Dala Bank JSC"]),
        ("accounts", ["Altyn Bank JSC", "Dala Bank JSC"]),
        ("account-information", ["Altyn Bank JSC", "Dala Bank JSC"]),
        ("100%", ["Altyn Bank JSC"]),  # % is a character searched, not a wildcard
        ("_", []),
        ("hidden", []),  # unpublished APIs are not found
        ("  ", ["Altyn Bank JSC", "Dala Bank JSC"]),
    ],
)
def test_the_showcase_is_searched_by_owner_description_and_standard(
    listed: dict, query: str, owners: list
) -> None:
    assert [e["owner"]["name"] for e in showcase(query)] == owners


def test_a_search_too_long_is_refused(listed: dict) -> None:
    with pytest.raises(ApiRegistryError, match="at most 100"):
        showcase("x" * 101)


def test_health_is_uptime_and_latency_of_the_last_day_of_checks(listed: dict, clock) -> None:
    api_id = listed["altyn"]
    _runs(api_id, clock.now(), [(True, [10, 20]), (True, [30, 40]), (False, [50, 60]), (True, [70, 1000])])
    # a run older than the window does not count
    _runs(api_id, clock.now() - HEALTH_WINDOW - 1, [(False, [99999])])
    health = showcase("altyn")[0]["health"]
    assert health["checks_counted"] == 4
    assert health["uptime_percent"] == 75.0
    # the checks' durations (not-run checks left out): 10 20 30 40 50 60 70 1000
    assert health["latency_ms"] == {"median": 45, "p95": 1000}


def test_an_api_never_checked_has_no_health_figures(listed: dict) -> None:
    from registry.apis import get_api

    health = api_health(get_api(listed["dala"]))
    assert health["checks_counted"] == 0
    assert health["uptime_percent"] is None
    assert health["latency_ms"] == {"median": None, "p95": None}


def test_the_check_history_is_newest_first_and_kept_when_unpublished(listed: dict, clock) -> None:
    api_id = listed["altyn"]
    _runs(api_id, clock.now(), [(True, [1]), (False, [2]), (True, [3])])
    set_published(api_id, False)
    assert [r.passed for r in check_history(api_id)] == [True, False, True]
    assert [r.duration_ms for r in check_history(api_id, limit=2)] == [1, 2]
    with pytest.raises(ApiRegistryError, match="no API"):
        check_history("nope")


# -- the JSON API -------------------------------------------------------------------------------------
def test_the_showcase_api_is_public_and_answers_in_its_openapi_shape(listed: dict, http, clock) -> None:
    _runs(listed["altyn"], clock.now(), [(True, [5])])
    answer = http.get("/registry/v1/showcase?q=bank")
    assert answer.status_code == 200
    assert [a["owner"]["name"] for a in answer.get_json()["apis"]] == ["Altyn Bank JSC", "Dala Bank JSC"]
    _assert_follows_the_document(http, answer, "/registry/v1/showcase?q=bank")


def test_the_check_history_api_lists_runs_and_refuses_in_the_registry_error_shape(
    listed: dict, http, clock
) -> None:
    _runs(listed["altyn"], clock.now(), [(True, [5]), (False, [6])])
    answer = http.get(f"/registry/v1/apis/{listed['altyn']}/checks?limit=1")
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["api_id"], body["status"], len(body["checks"])) == (listed["altyn"], "published", 1)
    _assert_follows_the_document(http, answer, f"/registry/v1/apis/{listed['altyn']}/checks?limit=1")
    missing = http.get("/registry/v1/apis/nope/checks")
    assert (missing.status_code, missing.get_json()["error"]) == (404, "not_found")
    for limit in ("0", "x", "501"):
        bad = http.get(f"/registry/v1/apis/{listed['altyn']}/checks?limit={limit}")
        assert (bad.status_code, set(bad.get_json())) == (400, {"error", "error_description"})
    too_long = http.get("/registry/v1/showcase?q=" + "x" * 101)
    assert (too_long.status_code, too_long.get_json()["error"]) == (400, "invalid_request")


def test_the_registry_openapi_document_is_valid(http) -> None:
    answer = http.get("/openapi/registry.json")
    assert answer.status_code == 200
    document = answer.get_json()
    validate(document)
    assert {"/showcase", "/apis/{api_id}/checks"} <= set(document["paths"])


def test_every_registry_route_is_in_the_registry_document(app, http) -> None:
    document = http.get("/openapi/registry.json").get_json()
    routes = {
        rule.rule.replace("<", "{").replace(">", "}").removeprefix("/registry/v1")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("registry.", "registry_accreditation."))
        and rule.rule.startswith("/registry/v1")
    }
    documented = {path.replace("{participant_id}", "{id}") for path in document["paths"]}
    routes = {path.replace("{participant_id}", "{id}") for path in routes}
    assert routes and routes <= documented, routes - documented


def test_two_registry_areas_cannot_describe_the_same_path() -> None:
    twice = PathGroup(paths={"/showcase": {}})
    with pytest.raises(ValueError, match="/showcase"):
        registry_openapi_document("https://senim.kz", groups=(twice, twice))


def _assert_follows_the_document(http, answer, path: str) -> None:
    from werkzeug.test import EnvironBuilder

    document = http.get("/openapi/registry.json").get_json()
    request = EnvironBuilder(path=path, base_url=document["servers"][0]["url"].rsplit("/registry/v1", 1)[0])
    request = WerkzeugOpenAPIRequest(request.get_request())
    OpenAPI.from_dict(document).validate_response(request, WerkzeugOpenAPIResponse(answer))


# -- the inbox ----------------------------------------------------------------------------------------
def test_a_participant_reads_its_own_notifications_only(app: Flask, clock) -> None:
    bank = add_participant(name="Altyn", bin=BANK_BINS[0], roles=[API_PROVIDER]).id
    other = add_participant(name="Dala", bin=BANK_BINS[1], roles=[API_PROVIDER]).id
    first = notify_participant(bank, "api.published", "Published", "It passed.")
    clock.advance(1)
    second = notify_participant(bank, "api.suspended", "Suspended", "It failed.")
    db.session.commit()
    assert [n.id for n in list_notifications(bank)] == [second.id, first.id]
    assert mark_read(bank, first.id).read_at == int(clock.now())
    assert [n.id for n in list_notifications(bank, unread_only=True)] == [second.id]
    with pytest.raises(NotificationError):
        mark_read(other, second.id)
    assert list_notifications(other) == []


def test_every_registry_route_is_in_its_openapi_document(app: Flask, http) -> None:
    document = http.get("/openapi/registry.json").get_json()
    routes = {
        rule.rule.replace("<", "{").replace(">", "}").removeprefix("/registry/v1")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("registry.") and not rule.rule.startswith("/openapi")
    }
    assert routes and routes <= set(document["paths"])
