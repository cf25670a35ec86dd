"""private_key_jwt (RFC 7523): every wrong assertion is refused."""

from __future__ import annotations

from joserfc.jwk import ECKey

from idp.clients import set_client_disabled


def _refused(response, error: str = "invalid_client") -> dict:
    body = response.get_json()
    assert response.status_code in (400, 401), body
    assert body["error"] == error, body
    return body


def test_assertion_signed_by_unregistered_key_is_refused(api_user) -> None:
    _refused(api_user.client_credentials(auth=api_user.client_auth(_key=ECKey.generate_key("P-256"))))


def test_assertion_for_another_audience_is_refused(api_user) -> None:
    body = _refused(api_user.client_credentials(auth=api_user.client_auth(aud="https://other.example")))
    assert "aud" in body["error_description"]


def test_assertion_with_token_endpoint_audience_only_is_refused(api_user) -> None:
    _refused(api_user.client_credentials(auth=api_user.client_auth(aud="http://senim.test/token")))


def test_replayed_assertion_jti_is_refused(api_user) -> None:
    auth = api_user.client_auth()
    assert api_user.client_credentials(auth=auth).status_code == 200
    body = _refused(api_user.client_credentials(auth=auth))
    assert "used before" in body["error_description"]


def test_assertion_without_jti_is_refused(api_user) -> None:
    _refused(api_user.client_credentials(auth=api_user.client_auth(jti=None)))


def test_expired_assertion_is_refused(api_user, clock) -> None:
    auth = api_user.client_auth()
    clock.advance(120)
    _refused(api_user.client_credentials(auth=auth))


def test_long_lived_assertion_is_refused(api_user, clock) -> None:
    body = _refused(api_user.client_credentials(auth=api_user.client_auth(exp=int(clock.now()) + 3600)))
    assert "too far" in body["error_description"]


def test_assertion_whose_iss_differs_from_sub_is_refused(api_user) -> None:
    _refused(api_user.client_credentials(auth=api_user.client_auth(iss="someone-else")))


def test_assertion_for_unknown_client_is_refused(api_user) -> None:
    _refused(api_user.client_credentials(auth=api_user.client_auth(iss="ghost", sub="ghost")))


def test_hmac_assertion_is_refused(api_user) -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    forged = jwt.encode(
        {"alg": "HS256"},
        {
            "iss": "app-1",
            "sub": "app-1",
            "aud": "http://senim.test",
            "exp": int(api_user.now()) + 60,
            "jti": "x" * 16,
        },
        OctKey.generate_key(256),
    )
    auth = {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": forged,
    }
    _refused(api_user.client_credentials(auth=auth))


def test_request_without_client_authentication_is_refused(api_user) -> None:
    response = api_user.client_credentials(auth={"client_id": "app-1"})
    _refused(response)


def test_client_secret_is_never_accepted(api_user) -> None:
    _refused(api_user.client_credentials(auth={"client_id": "app-1", "client_secret": "guess"}))


def test_disabled_client_is_refused(app, api_user) -> None:
    set_client_disabled("app-1", True)
    body = _refused(api_user.client_credentials())
    assert "disabled" in body["error_description"]
    set_client_disabled("app-1", False)
    assert api_user.client_credentials().status_code == 200
