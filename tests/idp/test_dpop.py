"""DPoP (RFC 9449): every access token is sender-constrained; each broken
proof is refused."""

from __future__ import annotations

from joserfc.jwk import ECKey

from tests.support import flow


def _dpop_error(response, error: str = "invalid_dpop_proof") -> str:
    body = response.get_json()
    assert response.status_code in (400, 401), body
    assert body["error"] == error, body
    return body["error_description"]


def test_token_request_without_dpop_proof_is_refused(api_user) -> None:
    assert "DPoP proof is required" in _dpop_error(api_user.client_credentials(dpop=None))


def test_replayed_dpop_proof_is_refused(api_user) -> None:
    proof = api_user.dpop("POST", "/token")
    assert api_user.client_credentials(dpop=proof).status_code == 200
    assert "used before" in _dpop_error(api_user.client_credentials(dpop=proof))


def test_stale_dpop_proof_is_refused(api_user, clock) -> None:
    proof = api_user.dpop("POST", "/token", iat=int(clock.now()) - 120)
    assert "iat" in _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_from_the_future_is_refused(api_user, clock) -> None:
    proof = api_user.dpop("POST", "/token", iat=int(clock.now()) + 60)
    _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_for_another_uri_is_refused(api_user) -> None:
    proof = api_user.dpop("POST", "/par")
    assert "htu" in _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_for_another_method_is_refused(api_user) -> None:
    proof = api_user.dpop("GET", "/token")
    assert "htm" in _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_with_wrong_typ_is_refused(api_user) -> None:
    proof = api_user.dpop("POST", "/token", header={"typ": "JWT"})
    _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_with_private_key_in_header_is_refused(api_user) -> None:
    proof = api_user.dpop("POST", "/token", header={"jwk": api_user.dpop_key.as_dict(private=True)})
    assert "private" in _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_signed_by_another_key_than_its_jwk_is_refused(api_user) -> None:
    other = ECKey.generate_key("P-256")
    proof = api_user.dpop(
        "POST", "/token", key=other, header={"jwk": api_user.dpop_key.as_dict(private=False)}
    )
    _dpop_error(api_user.client_credentials(dpop=proof))


def test_dpop_proof_that_is_not_a_jwt_is_refused(api_user) -> None:
    _dpop_error(api_user.client_credentials(dpop="not-a-jwt"))


def test_two_dpop_headers_are_refused(api_user) -> None:
    body = {"grant_type": "client_credentials", "scope": "consents", **api_user.client_auth()}
    headers = [("DPoP", api_user.dpop("POST", "/token")), ("DPoP", api_user.dpop("POST", "/token"))]
    response = api_user.http.post("/token", data=body, headers=headers)
    assert "Exactly one" in _dpop_error(response)


def test_code_exchange_with_other_key_than_bound_at_par_is_refused(api_user) -> None:
    params = flow.authorize(api_user, dpop_jkt=api_user.jkt)
    other = ECKey.generate_key("P-256")
    response = api_user.exchange(params["code"], dpop=api_user.dpop("POST", "/token", key=other))
    assert "another key" in _dpop_error(response)


def test_dpop_header_at_par_binds_the_code(api_user) -> None:
    interaction_params = flow.authorize(api_user, dpop=True)
    other = ECKey.generate_key("P-256")
    _dpop_error(
        api_user.exchange(interaction_params["code"], dpop=api_user.dpop("POST", "/token", key=other))
    )


def test_par_with_dpop_jkt_different_from_proof_is_refused(api_user) -> None:
    other = ECKey.generate_key("P-256")
    _dpop_error(api_user.par(dpop=True, dpop_jkt=other.thumbprint()))


def test_refresh_with_another_dpop_key_is_refused(api_user) -> None:
    tokens = flow.tokens(api_user)
    other = ECKey.generate_key("P-256")
    response = api_user.refresh(tokens["refresh_token"], dpop=api_user.dpop("POST", "/token", key=other))
    _dpop_error(response)


def test_resource_call_with_wrong_ath_is_refused(api_user) -> None:
    token = flow.tokens(api_user)["access_token"]
    proof = api_user.dpop("GET", "/userinfo", access_token=token + "x")
    response = api_user.http.get("/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert response.status_code == 401
    assert "ath" in response.get_json()["error_description"]


def test_server_nonce_is_demanded_when_required(base_app, api_user, clock) -> None:
    import dataclasses

    server = base_app.extensions["senim.authorization_server"]
    original = server.settings
    server.settings = dataclasses.replace(original, dpop_require_nonce=True)
    try:
        first = api_user.client_credentials()
        assert first.status_code == 400
        assert first.get_json()["error"] == "use_dpop_nonce"
        nonce = first.headers["DPoP-Nonce"]
        second = api_user.client_credentials(dpop=api_user.dpop("POST", "/token", nonce=nonce))
        assert second.status_code == 200, second.get_json()
        wrong = api_user.client_credentials(dpop=api_user.dpop("POST", "/token", nonce="made-up"))
        assert wrong.get_json()["error"] == "use_dpop_nonce"
    finally:
        server.settings = original
