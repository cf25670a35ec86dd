"""The token endpoint's refusals: codes, PKCE, redirect URI, refresh tokens."""

from __future__ import annotations

from sqlalchemy import select

from idp.models import Authorization
from senim.database import db
from tests.support import flow


def _error(response, error: str = "invalid_grant") -> str:
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["error"] == error, body
    return body["error_description"]


def _introspect(api_user, token: str) -> dict:
    response = api_user.http.post("/introspect", data={"token": token, **api_user.client_auth()})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_wrong_code_verifier_is_refused(api_user) -> None:
    params = flow.authorize(api_user)
    assert "code_verifier" in _error(api_user.exchange(params["code"], verifier="x" * 43))


def test_missing_code_verifier_is_refused(api_user) -> None:
    params = flow.authorize(api_user)
    _error(api_user.exchange(params["code"], verifier=""))


def test_redirect_uri_mismatch_at_token_endpoint_is_refused(api_user) -> None:
    params = flow.authorize(api_user)
    assert "redirect_uri" in _error(
        api_user.exchange(params["code"], redirect_uri="https://app.example/other")
    )


def test_unknown_code_is_refused(api_user) -> None:
    _error(api_user.exchange("not-a-code", verifier="v" * 43))


def test_expired_code_is_refused(api_user, clock) -> None:
    params = flow.authorize(api_user)
    clock.advance(61)
    assert "expired" in _error(api_user.exchange(params["code"]))


def test_reused_code_is_refused_and_revokes_what_it_issued(api_user) -> None:
    params = flow.authorize(api_user)
    first = api_user.exchange(params["code"]).get_json()
    assert _introspect(api_user, first["access_token"])["active"] is True
    assert "already been used" in _error(api_user.exchange(params["code"]))
    assert _introspect(api_user, first["access_token"]) == {"active": False}
    assert _introspect(api_user, first["refresh_token"]) == {"active": False}
    _error(api_user.refresh(first["refresh_token"]))
    authz = db.session.scalar(select(Authorization))
    assert authz.revoked_reason == "code_reused"


def test_code_of_another_client_is_refused(app, api_user) -> None:
    from tests.conftest import register
    from tests.support.api_user import ApiUser

    params = flow.authorize(api_user)
    key = register(app, client_id="app-2")
    thief = ApiUser(http=api_user.http, client_id="app-2", key=key, now=api_user.now)
    _error(thief.exchange(params["code"], verifier=api_user.verifier))
    assert api_user.exchange(params["code"]).status_code == 200


def test_refresh_token_reuse_revokes_the_whole_family(api_user) -> None:
    first = flow.tokens(api_user)
    second = api_user.refresh(first["refresh_token"]).get_json()
    third = api_user.refresh(second["refresh_token"]).get_json()
    assert "already been used" in _error(api_user.refresh(first["refresh_token"]))
    # the family is gone: the newest refresh token and access token too
    _error(api_user.refresh(third["refresh_token"]))
    assert _introspect(api_user, third["access_token"]) == {"active": False}
    authz = db.session.scalar(select(Authorization))
    assert authz.revoked_reason == "refresh_token_reused"


def test_refresh_retry_after_a_lost_response_succeeds_and_voids_the_lost_tokens(api_user) -> None:
    first = flow.tokens(api_user)
    lost = api_user.refresh(first["refresh_token"]).get_json()  # the client never saw this response
    retry = api_user.refresh(first["refresh_token"])
    assert retry.status_code == 200, retry.get_json()
    assert _introspect(api_user, lost["access_token"]) == {"active": False}
    _error(api_user.refresh(lost["refresh_token"]))
    # the retry's tokens work, and the grant lives on
    assert api_user.refresh(retry.get_json()["refresh_token"]).status_code == 200


def test_refresh_reuse_after_the_retry_grace_revokes_the_family(api_user, clock) -> None:
    first = flow.tokens(api_user)
    second = api_user.refresh(first["refresh_token"]).get_json()
    clock.advance(61)
    _error(api_user.refresh(first["refresh_token"]))
    _error(api_user.refresh(second["refresh_token"]))


def test_refused_refresh_request_does_not_consume_the_token(api_user) -> None:
    first = flow.tokens(api_user)
    wide = api_user.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "openid consents"}
    )
    _error(wide, "invalid_scope")
    assert api_user.refresh(first["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_is_refused(app, api_user) -> None:
    from tests.conftest import register
    from tests.support.api_user import ApiUser

    first = flow.tokens(api_user)
    key = register(app, client_id="app-2")
    thief = ApiUser(http=api_user.http, client_id="app-2", key=key, now=api_user.now)
    _error(thief.refresh(first["refresh_token"]))
    assert api_user.refresh(first["refresh_token"]).status_code == 200


def test_expired_refresh_token_is_refused(app, api_user, clock) -> None:
    first = flow.tokens(api_user)
    clock.advance(app.extensions["senim.settings"].refresh_token_ttl + 1)
    _error(api_user.refresh(first["refresh_token"]))


def test_refresh_cannot_widen_scope(api_user) -> None:
    first = flow.tokens(api_user, scope="openid")
    response = api_user.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "openid accounts"}
    )
    _error(response, "invalid_scope")


def test_refresh_may_narrow_scope(api_user) -> None:
    first = flow.tokens(api_user)
    response = api_user.token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "accounts"}
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "accounts"


def test_client_credentials_for_a_customer_scope_is_refused(api_user) -> None:
    _error(api_user.client_credentials(scope="accounts"), "invalid_scope")


def test_grant_type_the_client_is_not_registered_for_is_refused(app, http, clock) -> None:
    from tests.conftest import register
    from tests.support.api_user import ApiUser

    key = register(
        app, client_id="cc-only", grant_types=["client_credentials"], redirect_uris=[], scope="consents"
    )
    user = ApiUser(http=http, client_id="cc-only", key=key, now=clock.now)
    _error(user.par(scope="openid"), "unauthorized_client")
    _error(user.refresh("whatever"), "unauthorized_client")


def test_unsupported_grant_type_is_refused(api_user) -> None:
    response = api_user.token({"grant_type": "password", "username": "u", "password": "p"})
    assert response.get_json()["error"] == "unsupported_grant_type"
