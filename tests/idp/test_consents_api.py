"""The consent API of API users: create, read, end; each refusal in the standard error shape."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.consents.lifecycle import AUTHORISATION_WINDOW, history, settle_due_consents
from idp.consents.models import Consent, ConsentStatusChange
from registry.participants import API_USER, add_participant, block_participant
from senim.database import db
from tests.conftest import register
from tests.support.api_user import ApiUser
from tests.support.consents import add_banks, consent_body, iso_in


@pytest.fixture
def banks(app) -> list[str]:
    return add_banks(2)


@pytest.fixture
def token(api_user: ApiUser) -> str:
    return api_user.consents_token()


def _create(api_user: ApiUser, token: str, body: dict, **headers: str):
    return api_user.call("POST", "/consents", token, json=body, headers=headers)


def _errors(answer) -> list[tuple[str, str | None]]:
    body = answer.get_json()
    assert set(body) == {"Code", "Id", "Message", "Errors"}
    assert body["Id"] == answer.headers["X-Request-Id"]
    return [(e["ErrorCode"], e.get("Path")) for e in body["Errors"]]


def _count() -> int:
    return len(db.session.scalars(select(Consent)).all())


# -- create ------------------------------------------------------------------------------
def test_a_consent_is_created_awaiting_authorisation(api_user, token, banks, clock) -> None:
    answer = _create(
        api_user,
        token,
        consent_body(clock.now(), banks, TransactionFromDateTime=iso_in(clock.now(), days=-90)),
    )
    assert answer.status_code == 201, answer.get_json()
    data = answer.get_json()["Data"]
    assert data["Status"] == "AwaitingAuthorisation"
    assert data["ProviderIds"] == banks
    assert data["Permissions"] == ["ReadAccountsBasic", "ReadBalances"]
    assert answer.get_json()["Links"]["Self"].endswith(f"/consents/{data['ConsentId']}")
    assert answer.headers["x-fapi-interaction-id"]
    [created] = history(data["ConsentId"])
    assert (created.to_status, created.actor, created.reason) == (
        "AwaitingAuthorisation",
        "api_user",
        "API_USER_CREATED",
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"Permissions": None}, ("KZ.SENIM.Field.Missing", "Data.Permissions")),
        ({"Permissions": []}, ("KZ.SENIM.Field.Invalid", "Data.Permissions")),
        (
            {"Permissions": ["ReadAccountsBasic", "ReadEverything"]},
            ("KZ.SENIM.Field.Invalid", "Data.Permissions[1]"),
        ),
        ({"Permissions": ["ReadBalances", "ReadBalances"]}, ("KZ.SENIM.Field.Invalid", "Data.Permissions")),
        ({"Permissions": ["ReadTransactionsCredits"]}, ("KZ.SENIM.Field.Invalid", "Data.Permissions")),
        ({"ExpirationDateTime": None}, ("KZ.SENIM.Field.Missing", "Data.ExpirationDateTime")),
        ({"ExpirationDateTime": "next year"}, ("KZ.SENIM.Field.InvalidDate", "Data.ExpirationDateTime")),
        (
            {"ExpirationDateTime": "2027-01-01T00:00:00"},
            ("KZ.SENIM.Field.InvalidDate", "Data.ExpirationDateTime"),
        ),
        (
            {"ExpirationDateTime": "2000-01-01T00:00:00+00:00"},
            ("KZ.SENIM.Field.InvalidDate", "Data.ExpirationDateTime"),
        ),
        ({"ProviderIds": None}, ("KZ.SENIM.Field.Missing", "Data.ProviderIds")),
        ({"ProviderIds": []}, ("KZ.SENIM.Field.Invalid", "Data.ProviderIds")),
        ({"ProviderIds": ["no-such-bank"]}, ("KZ.SENIM.Participant.Unknown", "Data.ProviderIds[0]")),
        ({"Purpose": None}, ("KZ.SENIM.Field.Missing", "Data.Purpose")),
        ({"Purpose": "   "}, ("KZ.SENIM.Field.Invalid", "Data.Purpose")),
        ({"Purpose": "x" * 501}, ("KZ.SENIM.Field.Invalid", "Data.Purpose")),
        ({"Colour": "blue"}, ("KZ.SENIM.Field.Unexpected", "Data.Colour")),
    ],
)
def test_an_invalid_consent_request_is_refused_field_by_field(
    api_user, token, banks, clock, data, expected
) -> None:
    answer = _create(api_user, token, consent_body(clock.now(), banks, **data))
    assert answer.status_code == 400
    assert answer.get_json()["Code"] == "400 Bad Request"
    assert expected in _errors(answer)
    assert _count() == 0


def test_more_than_180_days_is_refused(api_user, token, banks, clock) -> None:
    answer = _create(
        api_user, token, consent_body(clock.now(), banks, ExpirationDateTime=iso_in(clock.now(), days=181))
    )
    assert ("KZ.SENIM.Field.InvalidDate", "Data.ExpirationDateTime") in _errors(answer)


def test_a_transaction_window_must_not_end_before_it_starts(api_user, token, banks, clock) -> None:
    body = consent_body(
        clock.now(),
        banks,
        TransactionFromDateTime=iso_in(clock.now(), days=-1),
        TransactionToDateTime=iso_in(clock.now(), days=-30),
    )
    assert ("KZ.SENIM.Field.InvalidDate", "Data.TransactionFromDateTime") in _errors(
        _create(api_user, token, body)
    )


def test_every_problem_is_reported_at_once(api_user, token, clock) -> None:
    answer = _create(api_user, token, {"Data": {"Permissions": ["Nope"], "Colour": 1}})
    paths = {path for _, path in _errors(answer)}
    assert {
        "Data.Permissions[0]",
        "Data.ExpirationDateTime",
        "Data.ProviderIds",
        "Data.Purpose",
        "Data.Colour",
    } <= paths


def test_a_blocked_bank_cannot_be_asked_for(api_user, token, banks, clock) -> None:
    block_participant(banks[1], "suspended by the regulator")
    answer = _create(api_user, token, consent_body(clock.now(), banks))
    assert ("KZ.SENIM.Participant.Unknown", "Data.ProviderIds[1]") in _errors(answer)


@pytest.mark.parametrize("body", ["not json", "[]", '{"Data": []}'])
def test_a_body_that_is_not_a_consent_request_is_refused(api_user, token, body) -> None:
    answer = api_user.call("POST", "/consents", token, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert _errors(answer)
    assert _count() == 0


def test_a_form_body_is_refused(api_user, token) -> None:
    answer = api_user.call("POST", "/consents", token, data={"Data": "x"})
    assert answer.status_code == 415


def test_a_retry_with_the_same_idempotency_key_returns_the_same_consent(
    api_user, token, banks, clock
) -> None:
    body = consent_body(clock.now(), banks)
    first = _create(api_user, token, body, **{"x-idempotency-key": "order-17"})
    again = _create(api_user, token, body, **{"x-idempotency-key": "order-17"})
    assert again.status_code == 201
    assert again.get_json()["Data"]["ConsentId"] == first.get_json()["Data"]["ConsentId"]
    assert _count() == 1
    other = _create(
        api_user, token, consent_body(clock.now(), banks, Purpose="else"), **{"x-idempotency-key": "order-17"}
    )
    assert other.status_code == 400
    assert ("KZ.SENIM.Header.Invalid", "x-idempotency-key") in _errors(other)
    assert _count() == 1


# -- who may call --------------------------------------------------------------------------
def test_no_token_no_consent(api_user, banks, clock) -> None:
    answer = api_user.http.post("/consents", json=consent_body(clock.now(), banks))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("DPoP")
    assert _errors(answer)[0][0] == "KZ.SENIM.Unauthorised"


def test_a_token_without_the_consents_scope_is_refused(app, api_user, banks, clock) -> None:
    from tests.support.flow import tokens

    customer_token = tokens(api_user)["access_token"]  # openid accounts
    answer = _create(api_user, customer_token, consent_body(clock.now(), banks))
    assert answer.status_code == 403
    assert _errors(answer)[0][0] == "KZ.SENIM.Forbidden"


def test_a_token_presented_without_its_dpop_proof_is_refused(api_user, token, banks, clock) -> None:
    answer = api_user.http.post(
        "/consents", json=consent_body(clock.now(), banks), headers={"Authorization": f"DPoP {token}"}
    )
    assert answer.status_code == 401
    assert _count() == 0


def test_a_blocked_api_user_cannot_ask_for_consents(app, http, clock, banks) -> None:
    fintech = add_participant(name="Fintech", bin="990440000652", roles=[API_USER])
    key = register(app, "fintech-app", participant_id=fintech.id)
    user = ApiUser(http=http, client_id="fintech-app", key=key, now=clock.now)
    token = user.consents_token()
    block_participant(fintech.id, "unpaid invoices")
    answer = _create(user, token, consent_body(clock.now(), banks))
    assert answer.status_code == 403
    assert _errors(answer)[0][0] == "KZ.SENIM.Participant.Blocked"
    assert _count() == 0


def test_an_api_user_sees_only_its_own_consents(app, api_user, token, http, clock, banks) -> None:
    consent_id = _create(api_user, token, consent_body(clock.now(), banks)).get_json()["Data"]["ConsentId"]
    other = ApiUser(http=http, client_id="app-2", key=register(app, "app-2"), now=clock.now)
    other_token = other.consents_token()
    assert other.call("GET", f"/consents/{consent_id}", other_token).status_code == 404
    assert other.call("DELETE", f"/consents/{consent_id}", other_token).status_code == 404
    assert db.session.get(Consent, consent_id).status == "AwaitingAuthorisation"


# -- read and end ------------------------------------------------------------------------------
def test_an_unknown_consent_is_not_found(api_user, token) -> None:
    answer = api_user.call("GET", "/consents/no-such-consent", token)
    assert answer.status_code == 404
    assert _errors(answer)[0][0] == "KZ.SENIM.Resource.NotFound"


def test_ending_a_consent_awaiting_authorisation_rejects_it_and_again_is_harmless(
    api_user, token, banks, clock
) -> None:
    consent_id = _create(api_user, token, consent_body(clock.now(), banks)).get_json()["Data"]["ConsentId"]
    assert api_user.call("DELETE", f"/consents/{consent_id}", token).status_code == 204
    assert api_user.call("DELETE", f"/consents/{consent_id}", token).status_code == 204
    assert api_user.call("GET", f"/consents/{consent_id}", token).get_json()["Data"]["Status"] == "Rejected"
    reasons = [(c.to_status, c.reason) for c in history(consent_id)]
    assert reasons == [("AwaitingAuthorisation", "API_USER_CREATED"), ("Rejected", "API_USER_ENDED")]


def test_a_consent_not_authorised_within_an_hour_is_rejected(api_user, token, banks, clock) -> None:
    consent_id = _create(api_user, token, consent_body(clock.now(), banks)).get_json()["Data"]["ConsentId"]
    clock.advance(AUTHORISATION_WINDOW - 1)
    token = api_user.consents_token()
    assert (
        api_user.call("GET", f"/consents/{consent_id}", token).get_json()["Data"]["Status"]
        == "AwaitingAuthorisation"
    )
    clock.advance(1)
    assert api_user.call("GET", f"/consents/{consent_id}", token).get_json()["Data"]["Status"] == "Rejected"
    last = history(consent_id)[-1]
    assert (last.actor, last.reason) == ("system", "NOT_AUTHORISED_IN_TIME")


def test_the_periodic_sweep_settles_consents_nobody_reads(api_user, token, banks, clock) -> None:
    consent_id = _create(api_user, token, consent_body(clock.now(), banks)).get_json()["Data"]["ConsentId"]
    clock.advance(AUTHORISATION_WINDOW)
    assert settle_due_consents() == 1
    assert db.session.get(Consent, consent_id).status == "Rejected"
    assert settle_due_consents() == 0
    assert len(db.session.scalars(select(ConsentStatusChange)).all()) == 2


def test_the_openapi_document_of_the_consent_api_is_valid_and_complete(app, http) -> None:
    from openapi_spec_validator import validate

    document = http.get("/openapi/consents.json").get_json()
    validate(document)
    rules = {
        rule.rule.replace("<consent_id>", "{ConsentId}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("consents.")
    }
    assert rules == set(document["paths"])
