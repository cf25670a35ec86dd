"""An authorization request may name only a consent of its own client that awaits authorisation."""

from __future__ import annotations

import json

import pytest

from idp.consents.lifecycle import AUTHORISATION_WINDOW
from tests.conftest import register
from tests.support.api_user import ApiUser
from tests.support.consents import add_banks, consent_body
from tests.support.flow import query


@pytest.fixture
def consent_id(api_user: ApiUser, clock) -> str:
    token = api_user.consents_token()
    answer = api_user.call("POST", "/consents", token, json=consent_body(clock.now(), add_banks(2)))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["Data"]["ConsentId"]


def _details(consent_id: str) -> str:
    return json.dumps([{"type": "account_information", "consent_id": consent_id}])


def test_the_own_awaiting_consent_may_be_pushed(api_user, consent_id) -> None:
    assert api_user.par(authorization_details=_details(consent_id)).status_code == 201


def test_another_api_users_consent_is_refused_at_par(app, http, clock, consent_id) -> None:
    other = ApiUser(http=http, client_id="app-2", key=register(app, "app-2"), now=clock.now)
    answer = other.par(authorization_details=_details(consent_id))
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_authorization_details"


def test_an_unknown_consent_is_refused_at_par(api_user) -> None:
    answer = api_user.par(authorization_details=_details("00000000-0000-4000-8000-000000000000"))
    assert answer.get_json()["error"] == "invalid_authorization_details"


def test_a_consent_no_longer_awaiting_is_refused_at_par(api_user, consent_id) -> None:
    api_user.call("DELETE", f"/consents/{consent_id}", api_user.consents_token())
    answer = api_user.par(authorization_details=_details(consent_id))
    assert answer.status_code == 400
    assert "Rejected" in answer.get_json()["error_description"]


def test_a_consent_ended_between_par_and_authorize_is_refused_at_authorize(api_user, consent_id) -> None:
    pushed = api_user.par(authorization_details=_details(consent_id), state="s-9")
    api_user.call("DELETE", f"/consents/{consent_id}", api_user.consents_token())
    answer = api_user.http.get(
        "/authorize",
        query_string={"client_id": api_user.client_id, "request_uri": pushed.get_json()["request_uri"]},
    )
    assert answer.status_code == 303
    params = query(answer.headers["Location"])
    assert params["error"] == "invalid_authorization_details" and params["state"] == "s-9"


def test_a_consent_that_timed_out_after_par_is_refused_at_authorize(api_user, consent_id, clock) -> None:
    clock.advance(AUTHORISATION_WINDOW - 30)
    pushed = api_user.par(authorization_details=_details(consent_id))
    clock.advance(30)
    answer = api_user.http.get(
        "/authorize",
        query_string={"client_id": api_user.client_id, "request_uri": pushed.get_json()["request_uri"]},
    )
    assert query(answer.headers["Location"])["error"] == "invalid_authorization_details"
