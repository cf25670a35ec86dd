"""Crafted calls at the proxy: forged, expired and malformed tokens, proofs of the wrong key
or too old, query parameters outside the standard, paths and methods the standard does not
have. Each is refused in the standard's error shape (never an HTML page or a 500), and none
reaches the bank."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.resource_proxy.conftest import PROXY, Platform, metered
from tests.resource_proxy.test_refusals import assert_refused, last_outcome
from tests.support.audit_log import AuditLines


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _call_with_token(platform: Platform, token: str):
    headers = {"Authorization": f"DPoP {token}", "x-provider-id": platform.bank}
    headers["DPoP"] = platform.api_user.dpop("GET", f"{PROXY}/accounts", access_token=token)
    return platform.api_user.http.get(f"{PROXY}/accounts", headers=headers)


# -- the access token ----------------------------------------------------------------------------------
def test_a_token_with_a_crafted_header_is_refused_not_a_500(platform: Platform) -> None:
    # joserfc raises TypeError for "crit": [1] before any signature check.
    crafted = f"{_b64({'alg': 'ES256', 'crit': [1]})}.{_b64({'a': 1})}.AAAA"
    assert_refused(_call_with_token(platform, crafted), 401, "KZ.SENIM.AccessToken.Invalid")
    assert metered() == []  # nobody known to bill


def test_a_token_signed_by_another_key_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    # The same header (kid included) and claims, signed by somebody else's key.
    header, payload = (json.loads(_unb64(part)) for part in token.split(".")[:2])
    forged = jwt.encode(header, payload, ECKey.generate_key("P-256"))
    assert_refused(_call_with_token(platform, forged), 401, "KZ.SENIM.AccessToken.Invalid")


def test_an_expired_token_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    platform.clock.advance(301)  # access tokens live 300 s
    assert_refused(_call_with_token(platform, token), 401, "KZ.SENIM.AccessToken.Invalid")


# -- the proof -----------------------------------------------------------------------------------------
def test_a_proof_signed_by_another_key_than_the_token_s_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    other = ECKey.generate_key("P-256")
    proof = platform.api_user.dpop("GET", f"{PROXY}/accounts", access_token=token, key=other)
    assert_refused(platform.call("/accounts", token, headers={"DPoP": proof}), 401, "KZ.SENIM.DPoP.Invalid")
    assert last_outcome() == "refused:dpop_key_mismatch"


def test_a_stale_proof_is_refused(platform: Platform) -> None:
    _consent, token = platform.token()
    old = int(platform.clock.now()) - 120  # proofs are accepted for 60 s
    proof = platform.api_user.dpop("GET", f"{PROXY}/accounts", access_token=token, iat=old)
    assert_refused(platform.call("/accounts", token, headers={"DPoP": proof}), 401, "KZ.SENIM.DPoP.Invalid")
    assert last_outcome() == "refused:dpop_proof_stale"


# -- the query: only what the standard allows reaches the bank -----------------------------------------
@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("page=%C2%B2", "page"),  # "²".isdigit() is true, int("²") fails
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=99999999999", "page"),
        ("fromBookingDateTime=yesterday", "fromBookingDateTime"),
        ("toBookingDateTime=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01-01", "toBookingDateTime"),
    ],
)
def test_query_parameters_outside_the_standard_are_refused(platform: Platform, query: str, path: str) -> None:
    _consent, token = platform.token(Permissions=["ReadAccountsBasic", "ReadTransactionsBasic"])
    account_id = platform.accounts(token)[0]["AccountId"]
    answer = platform.call(f"/accounts/{account_id}/transactions?{query}", token)
    body = assert_refused(answer, 400, "KZ.SENIM.Field.Invalid")
    assert body["Errors"][0]["Path"] == path
    assert last_outcome() == "refused:query_invalid"


def test_query_parameters_in_the_standard_pass(platform: Platform) -> None:
    _consent, token = platform.token(Permissions=["ReadAccountsBasic", "ReadTransactionsBasic"])
    account_id = platform.accounts(token)[0]["AccountId"]
    query = "fromBookingDateTime=2026-01-01T00:00:00%2B05:00&toBookingDateTime=2026-12-31&page=1"
    answer = platform.call(f"/accounts/{account_id}/transactions?{query}", token)
    assert answer.status_code == 200, answer.get_json()


# -- paths and methods the standard does not have ---------------------------------------------------------
@pytest.mark.parametrize("path", ["/accounts/", "/accounts/a%2Fb/balances", "/statements", ""])
def test_a_path_outside_the_standard_is_a_standard_404(platform: Platform, path: str) -> None:
    answer = platform.api_user.http.get(PROXY + path, headers={"x-fapi-interaction-id": "not-a-uuid"})
    assert_refused(answer, 404, "KZ.SENIM.Resource.NotFound")
    assert answer.is_json


def test_another_method_is_a_standard_405(platform: Platform) -> None:
    answer = platform.api_user.http.post(f"{PROXY}/accounts")
    assert_refused(answer, 405, "KZ.SENIM.Method.NotAllowed")
    assert "GET" in answer.headers["Allow"]


def test_errors_elsewhere_keep_their_own_answers(platform: Platform) -> None:
    answer = platform.api_user.http.get("/no-such-page")
    assert answer.status_code == 404
    assert not answer.is_json


# -- what the audit log keeps ---------------------------------------------------------------------------------
def test_the_audit_log_names_the_route_not_the_account(platform: Platform) -> None:
    _consent, token = platform.token(Permissions=["ReadAccountsBasic"])
    account_id = platform.accounts(token)[0]["AccountId"]
    with AuditLines() as lines:
        answer = platform.call(f"/accounts/{account_id}/balances", token)  # not permitted: audited
    assert answer.status_code == 403
    assert [e["path"] for e in lines.events("resource.refused")] == [f"{PROXY}/accounts/<AccountId>/balances"]
    assert account_id not in lines.text()
