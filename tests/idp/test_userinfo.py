"""A protected resource (userinfo) refuses every token that is not valid now,
bound to the caller's key and of the right scope."""

from __future__ import annotations

from tests.support import flow


def _call(api_user, token: str, scheme: str = "DPoP", **proof_claims):
    proof = api_user.dpop("GET", "/userinfo", access_token=token, **proof_claims)
    return api_user.http.get("/userinfo", headers={"Authorization": f"{scheme} {token}", "DPoP": proof})


def test_expired_access_token_is_refused(api_user, clock) -> None:
    token = flow.tokens(api_user)["access_token"]
    clock.advance(301)
    response = _call(api_user, token)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_dpop_bound_token_presented_as_bearer_is_refused(api_user) -> None:
    token = flow.tokens(api_user)["access_token"]
    response = _call(api_user, token, scheme="Bearer")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')


def test_token_without_openid_scope_is_refused(api_user) -> None:
    token = api_user.client_credentials().get_json()["access_token"]
    response = _call(api_user, token)
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"


def test_token_of_a_revoked_grant_is_refused(api_user) -> None:
    from sqlalchemy import select

    from idp.models import Authorization
    from idp.tokens import revoke_authorization
    from senim.database import db

    token = flow.tokens(api_user)["access_token"]
    revoke_authorization(db.session.scalar(select(Authorization)).id, "test")
    db.session.commit()
    assert _call(api_user, token).status_code == 401


def test_forged_access_token_is_refused(api_user) -> None:
    from joserfc import jwt
    from joserfc.jwk import ECKey

    forged = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt"},
        {
            "iss": "http://senim.test",
            "sub": "x",
            "jti": "j",
            "exp": 9999999999,
            "scope": "openid",
            "cnf": {"jkt": api_user.jkt},
        },
        ECKey.generate_key("P-256"),
    )
    assert _call(api_user, forged).status_code == 401


def test_nonce_demand_at_a_resource_is_a_401_challenge(base_app, api_user) -> None:
    import dataclasses

    token = flow.tokens(api_user)["access_token"]
    server = base_app.extensions["senim.authorization_server"]
    original = server.settings
    server.settings = dataclasses.replace(original, dpop_require_nonce=True)
    try:
        response = _call(api_user, token)
        assert response.status_code == 401
        assert response.get_json()["error"] == "use_dpop_nonce"
        assert response.headers["DPoP-Nonce"]
        assert _call(api_user, token, nonce=response.headers["DPoP-Nonce"]).status_code == 200
    finally:
        server.settings = original
