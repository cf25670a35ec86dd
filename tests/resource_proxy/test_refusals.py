"""Every refusal of the pipeline, each against the running proxy with a real
reference bank behind it. Each test asserts the refusal's own error code and
metered outcome, so it fails if its check is removed (a later check, or the
bank, would answer differently)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from idp.consents.models import Consent
from idp.models import Client
from registry.apis import end_subscription, set_published
from registry.participants import block_participant
from senim.database import db
from tests.resource_proxy.conftest import PROXY, Platform, metered
from tests.support import flow
from tests.support.api_user import ISSUER
from tests.support.consent_journey import end_consent


def assert_refused(answer, status: int, error_code: str) -> dict:
    body = answer.get_json()
    assert answer.status_code == status, body
    assert body["Code"].startswith(str(status))
    assert [e["ErrorCode"] for e in body["Errors"]] == [error_code], body
    assert body["Id"] == answer.headers["x-fapi-interaction-id"]
    assert "Data" not in body
    return body


def last_outcome() -> str:
    return metered()[-1].outcome


# -- the API user ------------------------------------------------------------------------------------
def test_a_client_that_belongs_to_no_api_user_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    db.session.execute(update(Client).where(Client.client_id == "app-1").values(participant_id=None))
    db.session.commit()
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Participant.Unknown")
    assert metered() == []  # nobody to bill


def test_a_blocked_api_user_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    block_participant(platform.api_user_id, "licence suspended")
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Participant.Blocked")
    assert last_outcome() == "refused:api_user_blocked"


# -- the token and its proof --------------------------------------------------------------------------
def test_no_access_token_is_refused(platform: Platform) -> None:
    answer = platform.api_user.http.get(f"{PROXY}/accounts", headers={"x-provider-id": platform.bank})
    assert_refused(answer, 401, "KZ.SENIM.AccessToken.Invalid")
    assert answer.headers["WWW-Authenticate"].startswith("DPoP ")


def test_a_client_credentials_token_is_refused_on_data(platform: Platform) -> None:
    token = platform.api_user.consents_token()
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.AccessToken.NotForCustomer")
    assert last_outcome() == "refused:client_credentials_token"


def test_a_call_without_a_dpop_proof_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    answer = platform.api_user.http.get(
        f"{PROXY}/accounts", headers={"Authorization": f"DPoP {token}", "x-provider-id": platform.bank}
    )
    assert_refused(answer, 401, "KZ.SENIM.DPoP.Invalid")
    assert last_outcome() == "refused:dpop_proof_missing"


def test_a_replayed_dpop_proof_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    proof = platform.api_user.dpop("GET", f"{PROXY}/accounts", access_token=token)
    first = platform.call("/accounts", token, headers={"DPoP": proof})
    assert first.status_code == 200, first.get_json()
    assert_refused(platform.call("/accounts", token, headers={"DPoP": proof}), 401, "KZ.SENIM.DPoP.Invalid")
    assert last_outcome() == "refused:dpop_proof_replayed"


@pytest.mark.parametrize(
    "claims",
    [{"htu": f"{ISSUER}{PROXY}/accounts/other"}, {"htm": "POST"}, {"ath": "bm90LXRoZS10b2tlbnMtaGFzaA"}],
    ids=["htu", "htm", "ath"],
)
def test_a_proof_for_another_request_or_token_is_refused(platform: Platform, claims: dict) -> None:
    _consent, token = platform.token()
    proof = platform.api_user.dpop("GET", f"{PROXY}/accounts", access_token=token, **claims)
    assert_refused(platform.call("/accounts", token, headers={"DPoP": proof}), 401, "KZ.SENIM.DPoP.Invalid")
    assert last_outcome() == "refused:dpop_proof_invalid"


# -- the consent, live ---------------------------------------------------------------------------------
def test_a_token_without_a_consent_is_refused(platform: Platform) -> None:
    token = flow.tokens(platform.api_user)["access_token"]
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Consent.Missing")
    assert last_outcome() == "refused:no_consent"


def test_a_revoked_consent_blocks_calls_with_an_unexpired_token(platform: Platform) -> None:
    consent_id, token = platform.token()
    assert platform.call("/accounts", token).status_code == 200
    end_consent(platform.api_user, consent_id)
    body = assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Resource.InvalidConsentStatus")
    assert "revoked" in body["Message"]
    assert last_outcome() == "refused:consent_revoked"


def test_an_expired_consent_is_refused_before_its_token_expires(platform: Platform) -> None:
    consent_id, token = platform.token()
    # The register says it ran out (the token, capped at the consent's expiry, is still valid).
    past = int(platform.clock.now()) - 1
    db.session.execute(update(Consent).where(Consent.id == consent_id).values(expires_at=past))
    db.session.commit()
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Resource.InvalidConsentStatus")
    assert last_outcome() == "refused:consent_expired"
    db.session.expire_all()
    assert db.session.get(Consent, consent_id).status == "Expired"  # settled, recorded at once


def test_a_rejected_consent_is_refused(platform: Platform) -> None:
    consent_id, token = platform.token()
    db.session.execute(
        update(Consent).where(Consent.id == consent_id).values(status="Rejected", version=Consent.version + 1)
    )
    db.session.commit()
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Resource.InvalidConsentStatus")
    assert last_outcome() == "refused:consent_rejected"


def test_an_endpoint_the_permissions_do_not_cover_is_refused(platform: Platform) -> None:
    _consent, token = platform.token(Permissions=["ReadAccountsBasic"])
    account_id = platform.accounts(token)[0]["AccountId"]
    for path in (f"/accounts/{account_id}/balances", f"/accounts/{account_id}/transactions"):
        assert_refused(platform.call(path, token), 403, "KZ.SENIM.Resource.ConsentMismatch")
        assert last_outcome() == "refused:permission_missing"


# -- the bank --------------------------------------------------------------------------------------------
def test_a_call_naming_no_bank_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    assert_refused(platform.call("/accounts", token, provider=None), 400, "KZ.SENIM.Header.Missing")
    assert last_outcome() == "refused:provider_missing"


def test_an_unknown_provider_id_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    for provider in (str(uuid.uuid4()), platform.api_user_id, "not-an-id"):
        assert_refused(
            platform.call("/accounts", token, provider=provider), 400, "KZ.SENIM.Participant.Unknown"
        )
        assert last_outcome() == "refused:provider_unknown"


def test_a_bank_the_consent_does_not_name_is_refused(platform: Platform) -> None:
    _consent, token = platform.token(banks=[platform.banks[0]])
    answer = platform.call("/accounts", token, provider=platform.banks[1])
    assert_refused(answer, 403, "KZ.SENIM.Consent.BankNotCovered")
    assert last_outcome() == "refused:bank_not_in_consent"


def test_a_blocked_bank_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    block_participant(platform.bank, "withdrawn from the pilot")
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Participant.Blocked")
    assert last_outcome() == "refused:bank_blocked"


def test_a_bank_whose_api_is_not_published_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    set_published(platform.apis[platform.bank], False)
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Api.NotPublished")
    assert last_outcome() == "refused:api_not_published"


def test_an_api_user_not_subscribed_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    end_subscription(api_id=platform.apis[platform.bank], client_id="app-1")
    assert_refused(platform.call("/accounts", token), 403, "KZ.SENIM.Api.NotSubscribed")
    assert last_outcome() == "refused:api_user_not_subscribed"


def test_an_account_id_that_could_change_the_banks_path_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    assert_refused(platform.call("/accounts/a.b/balances", token), 400, "KZ.SENIM.Field.Invalid")
