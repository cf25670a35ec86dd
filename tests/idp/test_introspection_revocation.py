"""Introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from tests.support import flow


def _introspect(api_user, token: str, **extra: str) -> dict:
    response = api_user.http.post("/introspect", data={"token": token, **extra, **api_user.client_auth()})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _revoke(api_user, token: str, **extra: str):
    return api_user.http.post("/revoke", data={"token": token, **extra, **api_user.client_auth()})


def test_introspection_describes_an_active_access_token(api_user) -> None:
    tokens = flow.tokens(api_user)
    body = _introspect(api_user, tokens["access_token"])
    assert body["active"] is True
    assert body["client_id"] == "app-1"
    assert body["sub"] == "customer-1"
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": api_user.jkt}
    assert body["iss"] == "http://senim.test"


def test_revoked_access_token_is_inactive_at_introspection_before_it_expires(api_user) -> None:
    tokens = flow.tokens(api_user)
    assert _revoke(api_user, tokens["access_token"]).status_code == 200
    assert _introspect(api_user, tokens["access_token"]) == {"active": False}
    # ... and refused at a protected resource
    token = tokens["access_token"]
    proof = api_user.dpop("GET", "/userinfo", access_token=token)
    response = api_user.http.get("/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_revoking_a_refresh_token_revokes_its_grant(api_user) -> None:
    tokens = flow.tokens(api_user)
    assert _revoke(api_user, tokens["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert _introspect(api_user, tokens["access_token"]) == {"active": False}
    assert api_user.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_expired_access_token_is_inactive(api_user, clock) -> None:
    tokens = flow.tokens(api_user)
    clock.advance(301)
    assert _introspect(api_user, tokens["access_token"]) == {"active": False}


def test_unknown_token_is_inactive_and_its_revocation_is_accepted(api_user) -> None:
    assert _introspect(api_user, "garbage") == {"active": False}
    assert _revoke(api_user, "garbage").status_code == 200


def test_client_cannot_introspect_or_revoke_another_clients_token(app, api_user) -> None:
    from tests.conftest import register
    from tests.support.api_user import ApiUser

    tokens = flow.tokens(api_user)
    key = register(app, client_id="app-2")
    other = ApiUser(http=api_user.http, client_id="app-2", key=key, now=api_user.now)
    assert _introspect(other, tokens["access_token"]) == {"active": False}
    assert _revoke(other, tokens["access_token"]).status_code == 400
    assert _introspect(api_user, tokens["access_token"])["active"] is True


def test_introspection_requires_client_authentication(api_user) -> None:
    tokens = flow.tokens(api_user)
    response = api_user.http.post("/introspect", data={"token": tokens["access_token"], "client_id": "app-1"})
    assert response.status_code in (400, 401)  # RFC 6749 §5.2
    assert response.get_json()["error"] == "invalid_client"
