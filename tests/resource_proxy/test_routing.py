"""Calls that pass every check reach the reference bank and come back in the
standard's shape: Basic or Detail as the consent allows, Links pointing at the
proxy, each metered without account data."""

from __future__ import annotations

import json
import uuid

from idp.consents.models import Consent
from registry.models import PublishedApi
from resource_proxy.standard.validation import validate_answer
from senim.database import db
from tests.resource_proxy.conftest import PROXY, Platform, metered
from tests.support.api_user import ISSUER

BASIC = ["ReadAccountsBasic", "ReadBalances", "ReadTransactionsBasic"]
DETAIL = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail"]


def test_accounts_basic_shows_no_identification_and_links_point_at_the_proxy(platform: Platform) -> None:
    _consent, token = platform.token(Permissions=BASIC)
    answer = platform.call("/accounts", token)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert validate_answer("GET /accounts", 200, body, BASIC) == []
    accounts = body["Data"]["Account"]
    assert accounts and all("Account" not in a and "Holder" not in a for a in accounts)
    assert body["Links"]["Self"] == f"{ISSUER}{PROXY}/accounts"
    assert answer.headers["Cache-Control"] == "no-store"


def test_accounts_detail_shows_iban_and_holder(platform: Platform) -> None:
    _consent, token = platform.token(Permissions=DETAIL)
    accounts = platform.accounts(token)
    assert all(a["Account"][0]["Identification"].startswith("KZ") and "Holder" in a for a in accounts)


def test_one_account_its_balances_and_transactions_basic_and_detail(platform: Platform) -> None:
    for permissions, detail in ((BASIC, False), (DETAIL, True)):
        _consent, token = platform.token(Permissions=permissions)
        account_id = platform.accounts(token)[0]["AccountId"]
        one = platform.call(f"/accounts/{account_id}", token)
        assert one.status_code == 200 and one.get_json()["Data"]["Account"][0]["AccountId"] == account_id
        assert one.get_json()["Links"]["Self"] == f"{ISSUER}{PROXY}/accounts/{account_id}"
        balances = platform.call(f"/accounts/{account_id}/balances", token)
        assert balances.status_code == 200, balances.get_json()
        assert {b["AccountId"] for b in balances.get_json()["Data"]["Balance"]} == {account_id}
        transactions = platform.call(f"/accounts/{account_id}/transactions?page=1", token)
        assert transactions.status_code == 200, transactions.get_json()
        body = transactions.get_json()
        assert validate_answer("GET /accounts/{AccountId}/transactions", 200, body, permissions) == []
        assert body["Data"]["Transaction"]
        assert all(("TransactionInformation" in t) == detail for t in body["Data"]["Transaction"])
        assert all(
            link.startswith(f"{ISSUER}{PROXY}/accounts/{account_id}/transactions")
            for link in body["Links"].values()
        )


def test_a_bank_404_in_the_standard_shape_is_passed_on(platform: Platform) -> None:
    _consent, token = platform.token()
    answer = platform.call("/accounts/NOPE-0000/balances", token)
    assert answer.status_code == 404
    assert answer.get_json()["Errors"][0]["ErrorCode"] == "KZ.SENIM.Resource.NotFound"
    assert answer.get_json()["Id"] == answer.headers["x-fapi-interaction-id"]


def test_the_interaction_id_is_echoed_or_made(platform: Platform) -> None:
    _consent, token = platform.token()
    sent = str(uuid.uuid4())
    assert (
        platform.call("/accounts", token, headers={"x-fapi-interaction-id": sent}).headers[
            "x-fapi-interaction-id"
        ]
        == sent
    )
    made = platform.call("/accounts", token).headers["x-fapi-interaction-id"]
    assert str(uuid.UUID(made)) == made
    refused = platform.api_user.http.get(f"{PROXY}/accounts", headers={"x-fapi-interaction-id": sent})
    assert refused.status_code == 401 and refused.headers["x-fapi-interaction-id"] == sent
    assert refused.get_json()["Id"] == sent


def test_every_answered_call_is_metered_without_account_data(platform: Platform) -> None:
    consent_id, token = platform.token(Permissions=DETAIL)
    accounts = platform.accounts(
        token, headers={"x-fapi-interaction-id": "7d4b6c1e-0c1a-4f51-9d4e-1f2a3b4c5d6e"}
    )
    account_id = accounts[0]["AccountId"]
    platform.call(f"/accounts/{account_id}/transactions", token)
    platform.call("/accounts", token, provider=platform.banks[1])  # not in the consent: refused
    rows = metered()
    assert [(r.endpoint, r.status, r.outcome) for r in rows] == [
        ("GET /accounts", 200, "routed"),
        ("GET /accounts/{AccountId}/transactions", 200, "routed"),
        ("GET /accounts", 403, "refused:bank_not_in_consent"),
    ]
    first = rows[0]
    assert (first.api_user_id, first.client_id, first.provider_id, first.consent_id) == (
        platform.api_user_id,
        "app-1",
        platform.bank,
        consent_id,
    )
    assert first.api_id == platform.apis[platform.bank]
    assert first.interaction_id == "7d4b6c1e-0c1a-4f51-9d4e-1f2a3b4c5d6e"
    assert first.latency_ms >= 0
    stored = json.dumps([{c.name: getattr(r, c.name) for c in r.__table__.columns} for r in rows])
    for account in accounts:
        assert account["AccountId"] not in stored
        assert account["Account"][0]["Identification"] not in stored
    assert "900101300017" not in stored  # the customer's IIN


def test_a_routed_call_records_the_consents_use(platform: Platform) -> None:
    consent_id, token = platform.token()
    db.session.execute(db.update(Consent).where(Consent.id == consent_id).values(last_used_at=None))
    db.session.commit()
    platform.accounts(token)
    db.session.expire_all()
    assert db.session.get(Consent, consent_id).last_used_at == int(platform.clock.now())


def test_the_proxys_openapi_document_is_valid_and_names_the_provider_header(http) -> None:
    from openapi_spec_validator import validate

    document = http.get("/openapi/open-banking.json").get_json()
    validate(document)
    assert document["servers"] == [{"url": f"{ISSUER}{PROXY}"}]
    assert document["components"]["securitySchemes"]["DPoP"]["scheme"] == "DPoP"
    operation = document["paths"]["/accounts/{AccountId}/transactions"]["get"]
    assert {"$ref": "#/components/parameters/ProviderId"} in operation["parameters"]
    assert document["components"]["parameters"]["ProviderId"]["name"] == "x-provider-id"


def test_a_bank_refusing_the_platforms_assertion_is_not_passed_on_as_the_callers_fault(
    platform: Platform,
) -> None:
    # Bank 2's API registered at bank 1's address: bank 1 refuses an assertion for another audience.
    first, second = platform.banks
    bank_one_url = db.session.get(PublishedApi, platform.apis[first]).base_url
    db.session.execute(
        db.update(PublishedApi).where(PublishedApi.id == platform.apis[second]).values(base_url=bank_one_url)
    )
    db.session.commit()
    _consent, token = platform.token(banks=[second])
    answer = platform.call("/accounts", token, provider=second)
    assert answer.status_code == 502
    assert answer.get_json()["Errors"][0]["ErrorCode"] == "KZ.SENIM.Provider.InvalidAnswer"
    assert metered()[-1].outcome == "refused:bank_refused_assertion"
