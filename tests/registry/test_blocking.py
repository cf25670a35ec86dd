"""A blocked API user's clients are refused at every endpoint, and unblocking restores them.

Paths already proved elsewhere are not repeated here: grants tied to a
consent (tests/idp/test_consent_tokens.py), asking for consents
(tests/idp/test_consents_api.py), routed calls for a blocked API user or bank
(tests/resource_proxy/test_refusals.py). These cover the rest: PAR,
/authorize, every grant without a consent, introspection, userinfo.
"""

from __future__ import annotations

import pytest

from registry.participants import API_USER, add_participant, block_participant, unblock_participant
from tests.conftest import register
from tests.support import flow
from tests.support.accreditation import new_bin
from tests.support.api_user import ApiUser
from tests.support.consent_journey import introspect, userinfo


@pytest.fixture
def fintech(app, http, clock):
    participant = add_participant(name="Qarjy LLP", bin=new_bin(), roles=[API_USER])
    key = register(app, "fintech-app", participant_id=participant.id)
    return participant, ApiUser(http=http, client_id="fintech-app", key=key, now=clock.now)


def _refused_as_blocked(answer) -> None:
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"] == "unauthorized_client"
    assert "blocked" in answer.get_json()["error_description"]


def test_a_blocked_api_users_client_cannot_push_requests_until_unblocked(fintech) -> None:
    participant, api_user = fintech
    block_participant(participant.id, "unpaid invoices")
    _refused_as_blocked(api_user.par())
    unblock_participant(participant.id)
    assert api_user.par().status_code == 201


def test_a_request_pushed_before_the_block_is_refused_at_authorize(fintech) -> None:
    participant, api_user = fintech
    pushed = api_user.par().get_json()
    block_participant(participant.id, "unpaid invoices")
    answer = api_user.http.get(
        "/authorize", query_string={"client_id": api_user.client_id, "request_uri": pushed["request_uri"]}
    )
    assert answer.status_code in (302, 303)
    assert flow.query(answer.headers["Location"])["error"] == "unauthorized_client"


def test_a_blocked_api_user_gets_no_client_credentials_token_until_unblocked(fintech) -> None:
    participant, api_user = fintech
    block_participant(participant.id, "unpaid invoices")
    _refused_as_blocked(api_user.client_credentials())
    unblock_participant(participant.id)
    assert api_user.client_credentials().status_code == 200


def test_a_code_issued_before_the_block_is_not_exchanged(fintech) -> None:
    participant, api_user = fintech
    code = flow.authorize(api_user)["code"]
    block_participant(participant.id, "unpaid invoices")
    _refused_as_blocked(api_user.exchange(code))


def test_a_blocked_api_users_tokens_are_refused_and_introspect_inactive(fintech) -> None:
    participant, api_user = fintech
    tokens = flow.tokens(api_user)
    machine = api_user.client_credentials().get_json()["access_token"]
    assert introspect(api_user, tokens["access_token"])["active"] is True
    block_participant(participant.id, "unpaid invoices")
    assert introspect(api_user, tokens["access_token"]) == {"active": False}
    assert introspect(api_user, tokens["refresh_token"], token_type_hint="refresh_token") == {"active": False}
    assert introspect(api_user, machine) == {"active": False}
    called = userinfo(api_user, tokens["access_token"])
    assert called.status_code == 401 and called.get_json()["error"] == "invalid_token"
    _refused_as_blocked(api_user.refresh(tokens["refresh_token"]))
    # unblocked: the same tokens work again (a block suspends; it does not revoke)
    unblock_participant(participant.id)
    assert introspect(api_user, tokens["access_token"])["active"] is True
    assert userinfo(api_user, tokens["access_token"]).status_code == 200
    assert api_user.refresh(tokens["refresh_token"]).status_code == 200


def test_a_blocked_api_user_may_still_revoke_its_tokens(fintech) -> None:
    participant, api_user = fintech
    tokens = flow.tokens(api_user)
    block_participant(participant.id, "unpaid invoices")
    answer = api_user.http.post(
        "/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token", **api_user.client_auth()},
    )
    assert answer.status_code == 200
    unblock_participant(participant.id)
    assert api_user.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_other_api_users_are_not_affected(app, http, clock, fintech) -> None:
    participant, _ = fintech
    other = add_participant(name="Other app", bin=new_bin(), roles=[API_USER])
    key = register(app, "other-app", participant_id=other.id)
    other_user = ApiUser(http=http, client_id="other-app", key=key, now=clock.now)
    block_participant(participant.id, "unpaid invoices")
    assert other_user.client_credentials().status_code == 200
    assert other_user.par().status_code == 201
