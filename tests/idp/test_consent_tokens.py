"""Tokens bound to the consent: they name it, never outlive it, and stop at
once — refresh, introspection, resource calls — when it is no longer in force.

Every test runs the whole journey: the API user creates the consent, the
customer logs in with both factors and approves it, the API user exchanges
the code.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from idp.consents.models import Consent
from idp.models import Authorization
from registry.participants import API_USER, add_participant, block_participant
from senim.database import db
from tests.conftest import register
from tests.support import flow
from tests.support.api_user import ApiUser
from tests.support.consent_journey import (
    access_claims,
    approved_code,
    consent_tokens,
    create_consent,
    customer_at,
    details_naming,
    end_consent,
    introspect,
    sign_in_to_cabinet,
    subject_of,
    userinfo,
    withdraw_in_cabinet,
)
from tests.support.consents import iso_in
from tests.support.customer import BIDEN_IIN, OBAMA_IIN, Customer


@pytest.fixture
def customer(app, api_user) -> Customer:
    return customer_at(app, api_user)


def _consent(consent_id: str) -> Consent:
    db.session.expire_all()
    return db.session.get(Consent, consent_id)


def _assert_grant_is_dead(api_user: ApiUser, access_token: str, refresh_token: str, because: str) -> None:
    """At once: both tokens inactive at introspection, the access token refused
    at a resource, the refresh refused with invalid_grant saying why."""
    assert introspect(api_user, access_token) == {"active": False}
    assert introspect(api_user, refresh_token, token_type_hint="refresh_token") == {"active": False}
    called = userinfo(api_user, access_token)
    assert called.status_code == 401 and called.get_json()["error"] == "invalid_token"
    refreshed = api_user.refresh(refresh_token)
    assert refreshed.status_code == 400, refreshed.get_json()
    assert refreshed.get_json()["error"] == "invalid_grant"
    assert because in refreshed.get_json()["error_description"]


# -- the tokens name the consent --------------------------------------------------------------------
def test_the_access_token_and_introspection_name_the_consent(app, customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    claims = access_claims(app, journey.access_token)
    assert claims["consent_id"] == journey.consent_id
    [detail] = claims["authorization_details"]
    assert detail["consent_id"] == journey.consent_id
    assert detail["permissions"] == ["ReadAccountsBasic", "ReadBalances"]
    for token, hint in ((journey.access_token, None), (journey.refresh_token, "refresh_token")):
        answer = introspect(customer.api_user, token, **({"token_type_hint": hint} if hint else {}))
        assert answer["active"] is True
        assert answer["consent_id"] == journey.consent_id
        assert answer["sub"] == subject_of(OBAMA_IIN)


def test_the_grant_records_its_consent(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    [grant] = db.session.query(Authorization).all()
    assert grant.consent_id == journey.consent_id


# -- tokens never outlive the consent -----------------------------------------------------------------
def test_refresh_tokens_never_outlive_the_consent(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now(), ExpirationDateTime=iso_in(clock.now(), days=2))
    expires_at = _consent(journey.consent_id).expires_at
    api_user = customer.api_user
    answer = introspect(api_user, journey.refresh_token, token_type_hint="refresh_token")
    assert answer["exp"] == expires_at  # not 30 days ahead
    clock.advance(24 * 3600)
    refreshed = api_user.refresh(journey.refresh_token).get_json()
    assert (
        introspect(api_user, refreshed["refresh_token"], token_type_hint="refresh_token")["exp"] == expires_at
    )


def test_access_tokens_never_outlive_the_consent(app, customer, clock) -> None:
    journey = consent_tokens(customer, clock.now(), ExpirationDateTime=iso_in(clock.now(), seconds=120))
    expires_at = _consent(journey.consent_id).expires_at
    claims = access_claims(app, journey.access_token)
    assert claims["exp"] == expires_at  # not five minutes ahead
    assert journey.tokens["expires_in"] == expires_at - claims["iat"] < 300


# -- a consent no longer in force ends its tokens at once ---------------------------------------------
def _withdrawn_in_cabinet(customer: Customer, consent_id: str, clock) -> None:
    withdrawn = withdraw_in_cabinet(sign_in_to_cabinet(customer, clock), consent_id)
    assert withdrawn.status_code == 303


def _ended_by_api_user(customer: Customer, consent_id: str, clock) -> None:
    end_consent(customer.api_user, consent_id)


@pytest.mark.parametrize(
    "revoke", [_ended_by_api_user, _withdrawn_in_cabinet], ids=["by_api_user", "by_customer"]
)
def test_a_revoked_consent_ends_refresh_introspection_and_calls_at_once(customer, clock, revoke) -> None:
    journey = consent_tokens(customer, clock.now())
    api_user = customer.api_user
    assert introspect(api_user, journey.access_token)["active"] is True
    assert userinfo(api_user, journey.access_token).status_code == 200
    revoke(customer, journey.consent_id, clock)
    _assert_grant_is_dead(api_user, journey.access_token, journey.refresh_token, because="Revoked")


def test_an_expired_consent_ends_refresh_and_introspection(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now(), ExpirationDateTime=iso_in(clock.now(), days=1))
    clock.advance(24 * 3600 + 1)
    api_user = customer.api_user
    refreshed = api_user.refresh(journey.refresh_token)
    assert refreshed.get_json()["error"] == "invalid_grant"
    assert introspect(api_user, journey.access_token) == {"active": False}
    assert introspect(api_user, journey.refresh_token, token_type_hint="refresh_token") == {"active": False}


def test_a_consents_expiry_is_checked_live_not_only_through_the_token_lifetimes(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    # The tokens' own lifetimes already stop at the consent's expiry; this
    # proves the live check too: the consent's expiry moved under the tokens.
    db.session.execute(
        update(Consent).where(Consent.id == journey.consent_id).values(expires_at=int(clock.now()) - 1)
    )
    db.session.commit()
    _assert_grant_is_dead(customer.api_user, journey.access_token, journey.refresh_token, because="Expired")
    assert _consent(journey.consent_id).status == "Expired"  # and time's change is recorded


def test_a_blocked_api_user_can_no_longer_use_its_consents(app, http, clock) -> None:
    fintech = add_participant(name="Fintech", bin="990440000652", roles=[API_USER])
    api_user = ApiUser(
        http=http,
        client_id="fintech-app",
        key=register(app, "fintech-app", participant_id=fintech.id),
        now=clock.now,
    )
    journey = consent_tokens(customer_at(app, api_user), clock.now())
    assert _consent(journey.consent_id).participant_id == fintech.id
    block_participant(fintech.id, "unpaid invoices")
    _assert_grant_is_dead(api_user, journey.access_token, journey.refresh_token, because="API user")


def test_a_code_exchanged_after_the_consent_was_revoked_is_refused(customer, clock) -> None:
    api_user = customer.api_user
    consent_id = create_consent(api_user, clock.now())
    code = approved_code(customer, consent_id)
    end_consent(api_user, consent_id)
    answer = api_user.exchange(code)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_grant"
    assert "Revoked" in answer.get_json()["error_description"]


# -- one customer's consent never serves another ---------------------------------------------------------
def test_a_consent_approved_by_one_customer_cannot_be_pushed_for_another(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    pushed = customer.api_user.par(authorization_details=details_naming(journey.consent_id))
    assert pushed.status_code == 400
    assert pushed.get_json()["error"] == "invalid_authorization_details"
    assert _consent(journey.consent_id).customer_iin == OBAMA_IIN


def test_a_grant_of_another_customer_cannot_use_the_consent(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    db.session.execute(update(Authorization).values(subject=subject_of(BIDEN_IIN)))
    db.session.commit()
    _assert_grant_is_dead(
        customer.api_user, journey.access_token, journey.refresh_token, because="another customer"
    )


# -- last use -------------------------------------------------------------------------------------------
def test_issuing_and_refreshing_tokens_record_the_consents_last_use(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    consent = _consent(journey.consent_id)
    assert consent.last_used_at == int(clock.now())
    version = consent.version
    clock.advance(10)
    assert customer.api_user.refresh(journey.refresh_token).status_code == 200
    consent = _consent(journey.consent_id)
    assert consent.last_used_at == int(clock.now())
    assert consent.version == version  # a use never races a status change


def test_calls_with_the_token_record_use_at_most_once_a_minute(customer, clock) -> None:
    journey = consent_tokens(customer, clock.now())
    issued_at = int(clock.now())
    clock.advance(30)
    assert userinfo(customer.api_user, journey.access_token).status_code == 200
    assert _consent(journey.consent_id).last_used_at == issued_at  # within the minute: no write
    clock.advance(31)
    assert userinfo(customer.api_user, journey.access_token).status_code == 200
    assert _consent(journey.consent_id).last_used_at == int(clock.now())


# -- requests ----------------------------------------------------------------------------------------------
def test_par_with_two_account_information_details_is_refused(api_user, clock) -> None:
    first, second = create_consent(api_user, clock.now()), create_consent(api_user, clock.now())
    pushed = api_user.par(authorization_details=details_naming(first, second))
    assert pushed.status_code == 400
    assert pushed.get_json()["error"] == "invalid_authorization_details"
    assert "one account_information" in pushed.get_json()["error_description"]


def test_grants_without_a_consent_never_read_consents_or_participants(app, api_user) -> None:
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement.lower())

    engine = db.engine
    tokens = flow.tokens(api_user)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert api_user.refresh(tokens["refresh_token"]).status_code == 200
        assert introspect(api_user, tokens["access_token"])["active"] is True
        assert userinfo(api_user, tokens["access_token"]).status_code == 200
        assert api_user.client_credentials().status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements
    assert not [s for s in statements if "consents" in s or "participants" in s]
