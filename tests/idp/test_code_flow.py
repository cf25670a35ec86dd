"""The authorization code flow end to end: PAR, authorize, interaction,
token, userinfo, refresh."""

from __future__ import annotations

from joserfc import jwt

from senim.database import db
from tests.support import flow


def _claims(app, token: str) -> dict:
    keyset = app.extensions["senim.keyring"].verification_keyset()
    return jwt.decode(token, keyset, algorithms=["ES256", "PS256"]).claims


def test_code_flow_issues_dpop_bound_tokens_with_iss_in_response(app, api_user, clock) -> None:
    from tests.support.consent_journey import approve_at_consent_step, create_consent, details_naming

    consent_id = create_consent(api_user, clock.now())
    interaction_id = flow.start(api_user, authorization_details=details_naming(consent_id))
    subject = approve_at_consent_step(api_user, interaction_id)  # tokens only for an approved consent
    params = flow.resume(api_user, interaction_id)
    assert params["iss"] == "http://senim.test"
    assert params["state"] == api_user.state
    response = api_user.exchange(params["code"])
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["token_type"] == "DPoP"
    assert response.headers["Cache-Control"] == "no-store"
    assert body["expires_in"] <= 300
    access = _claims(app, body["access_token"])
    assert access["cnf"] == {"jkt": api_user.jkt}
    assert access["sub"] == subject
    assert access["client_id"] == "app-1"
    [granted] = access["authorization_details"]
    assert (granted["type"], granted["consent_id"]) == ("account_information", consent_id)
    assert body["authorization_details"] == access["authorization_details"]
    id_token = _claims(app, body["id_token"])
    assert id_token["aud"] == "app-1"
    assert id_token["amr"] == ["face", "sms"]
    assert "refresh_token" in body


def test_userinfo_needs_the_bound_dpop_key(app, api_user) -> None:
    body = flow.tokens(api_user)
    token = body["access_token"]
    ok = api_user.http.get(
        "/userinfo",
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": api_user.dpop("GET", "/userinfo", access_token=token),
        },
    )
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json() == {"sub": "customer-1"}
    from joserfc.jwk import ECKey

    other = ECKey.generate_key("P-256")
    stolen = api_user.http.get(
        "/userinfo",
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": api_user.dpop("GET", "/userinfo", access_token=token, key=other),
        },
    )
    assert stolen.status_code == 401
    assert stolen.get_json()["error"] == "invalid_dpop_proof"
    bearer = api_user.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401
    assert bearer.headers["WWW-Authenticate"].startswith("DPoP ")


def test_refresh_rotates_and_keeps_the_binding(app, api_user) -> None:
    first = flow.tokens(api_user)
    second = api_user.refresh(first["refresh_token"])
    assert second.status_code == 200, second.get_json()
    body = second.get_json()
    assert body["refresh_token"] != first["refresh_token"]
    assert _claims(app, body["access_token"])["cnf"]["jkt"] == api_user.jkt
    third = api_user.refresh(body["refresh_token"])
    assert third.status_code == 200


def test_client_credentials_token_for_consents_scope(app, api_user) -> None:
    response = api_user.client_credentials()
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["scope"] == "consents"
    claims = _claims(app, body["access_token"])
    assert claims["sub"] == "app-1"
    assert claims["cnf"]["jkt"] == api_user.jkt
    assert "refresh_token" not in body
    from idp.models import IssuedToken

    assert db.session.query(IssuedToken).count() == 1
