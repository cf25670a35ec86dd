"""Crafted input is refused with a standard error, never a 500 (each case was
a 500 once, found in review)."""

from __future__ import annotations

import json

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.support import flow
from tests.support.api_user import b64url


def _unsigned_jwt(header: dict | str, payload: dict | str) -> str:
    def enc(part: dict | str) -> str:
        raw = part if isinstance(part, str) else json.dumps(part)
        return b64url(raw.encode())

    return f"{enc(header)}.{enc(payload)}.{b64url(b'sig')}"


def _assert_refused(response, *errors: str) -> dict:
    body = response.get_json()
    assert 400 <= response.status_code < 500, (response.status_code, body)
    if errors:
        assert body["error"] in errors, body
    return body


DEEP = "[" * 3000 + "]" * 3000


def test_deeply_nested_client_assertion_is_refused(api_user) -> None:
    assertion = _unsigned_jwt({"alg": "ES256"}, '{"sub":' + DEEP + "}")
    auth = {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    for path in ("/token", "/par", "/introspect", "/revoke"):
        response = api_user.http.post(path, data={"grant_type": "client_credentials", "token": "x", **auth})
        _assert_refused(response, "invalid_client")


def test_client_assertion_naming_a_client_with_a_nul_byte_is_refused(api_user) -> None:
    _assert_refused(
        api_user.client_credentials(auth=api_user.client_auth(iss="app-1\x00", sub="app-1\x00")),
        "invalid_client",
    )


def test_client_assertion_with_audience_array_is_refused(api_user) -> None:
    auth = api_user.client_auth(aud=["http://senim.test", "https://evil.example"])
    _assert_refused(api_user.client_credentials(auth=auth), "invalid_client")


def test_resume_with_nul_in_interaction_id_is_refused(api_user) -> None:
    response = api_user.http.get("/authorize/resume/ab%00cd", headers={"Accept": "application/json"})
    _assert_refused(response, "invalid_request")


@pytest.mark.parametrize(
    "make_proof",
    [
        lambda u: b64url(b"[1]") + ".e30.c2ln",
        lambda u: b64url(b"1") + ".e30.c2ln",
        lambda u: _unsigned_jwt({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": ["EC"]}}, {}),
        lambda u: _unsigned_jwt('{"typ":"dpop+jwt","alg":"ES256","jwk":' + DEEP + "}", {}),
        lambda u: u.dpop("POST", "/token", htu="http://[bad"),
        lambda u: u.dpop("POST", "/token", htu=["http://senim.test/token"]),
        lambda u: u.dpop("POST", "/token", iat="now"),
        lambda u: u.dpop("POST", "/token", jti=12345678),
        lambda u: "x" * 20000,
    ],
    ids=[
        "header-array",
        "header-number",
        "kty-list",
        "deep-jwk",
        "bad-htu",
        "htu-list",
        "iat-string",
        "jti-number",
        "huge",
    ],
)
def test_malformed_dpop_proofs_are_refused(api_user, make_proof) -> None:
    _assert_refused(api_user.client_credentials(dpop=make_proof(api_user)), "invalid_dpop_proof")


def test_dpop_proof_with_small_rsa_key_is_refused(api_user) -> None:
    small = RSAKey.generate_key(1024, private=True, auto_kid=False) if False else None
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = RSAKey.import_key(rsa.generate_private_key(65537, 1024))
    head = {"typ": "dpop+jwt", "alg": "PS256", "jwk": small.as_dict(private=False)}
    body = {"jti": "j" * 16, "htm": "POST", "htu": "http://senim.test/token", "iat": int(api_user.now())}
    proof = jwt.encode(head, body, small, algorithms=["PS256"])
    _assert_refused(api_user.client_credentials(dpop=proof), "invalid_dpop_proof")


def test_dpop_proof_with_fractional_iat_is_accepted(api_user) -> None:
    proof = api_user.dpop("POST", "/token", iat=api_user.now() + 0.5)
    assert api_user.client_credentials(dpop=proof).status_code == 200


def test_non_ascii_ath_at_a_resource_is_refused(api_user) -> None:
    token = flow.tokens(api_user)["access_token"]
    proof = api_user.dpop("GET", "/userinfo", ath="é" * 43)
    response = api_user.http.get("/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_non_ascii_code_verifier_is_refused(api_user) -> None:
    params = flow.authorize(api_user)
    _assert_refused(api_user.exchange(params["code"], verifier="é" * 43), "invalid_grant")


@pytest.mark.parametrize(
    "details",
    [
        "[" * 1024,
        '[{"type":"account_information","consent_id":"c","n":NaN}]',
        '[{"type":"account_information","consent_id":"c","actions":[1]}]',
        '[{"type":"account_information","consent_id":"c","locations":"x"}]',
    ],
    ids=["deep", "nan", "actions-not-strings", "locations-not-array"],
)
def test_malformed_authorization_details_are_refused(api_user, details: str) -> None:
    _assert_refused(api_user.par(authorization_details=details), "invalid_authorization_details")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("scope", ["openid"]),
        ("nonce", ["a"]),
        ("code_challenge", ["x"]),
        ("dpop_jkt", 5),
        ("state", {"a": 1}),
    ],
)
def test_request_object_with_non_string_parameters_is_refused(api_user, name: str, value: object) -> None:
    from tests.support.api_user import pkce_pair

    _, challenge = pkce_pair()
    now = int(api_user.now())
    claims = {
        "iss": "app-1",
        "aud": "http://senim.test",
        "exp": now + 60,
        "client_id": "app-1",
        "response_type": "code",
        "redirect_uri": "https://app.example/cb",
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        name: value,
    }
    request_object = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, api_user.key)
    response = api_user.push_request_object(request_object)
    _assert_refused(response, "invalid_request_object")


def test_request_object_for_another_audience_is_refused(api_user) -> None:
    now = int(api_user.now())
    for aud in ("https://other.example", ["http://senim.test", "https://other.example"]):
        claims = {"iss": "app-1", "aud": aud, "exp": now + 60, "client_id": "app-1", "response_type": "code"}
        request_object = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, api_user.key)
        response = api_user.push_request_object(request_object)
        _assert_refused(response, "invalid_request_object")


def test_deeply_nested_request_object_is_refused(api_user) -> None:
    response = api_user.push_request_object(_unsigned_jwt({"alg": "ES256"}, '{"a":' + DEEP + "}"))
    _assert_refused(response, "invalid_request_object")


@pytest.mark.parametrize(("name", "value"), [("nonce", "a\x00b"), ("state", "x\ny"), ("max_age", "²")])
def test_par_parameters_with_control_characters_or_odd_digits_are_refused(api_user, name, value) -> None:
    _assert_refused(api_user.par(**{name: value}), "invalid_request")


def test_par_with_malformed_code_challenge_is_refused(api_user) -> None:
    _assert_refused(api_user.par(code_challenge="short"), "invalid_request")


def test_repeated_parameters_are_refused(api_user) -> None:
    body = [("grant_type", "client_credentials"), ("scope", "consents"), ("scope", "openid")]
    body += list(api_user.client_auth().items())
    from urllib.parse import urlencode

    response = api_user.http.post(
        "/token",
        data=urlencode(body),
        content_type="application/x-www-form-urlencoded",
        headers={"DPoP": api_user.dpop("POST", "/token")},
    )
    assert _assert_refused(response, "invalid_request")["error_description"] == "Parameter scope is repeated."
    request_uri = api_user.par().get_json()["request_uri"]
    response = api_user.http.get(
        f"/authorize?client_id=app-1&client_id=app-1&request_uri={request_uri}",
        headers={"Accept": "application/json"},
    )
    _assert_refused(response, "invalid_request")


def test_registering_a_small_rsa_key_is_refused(app) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from idp.clients import ClientRegistrationError, register_client

    small = RSAKey.import_key(rsa.generate_private_key(65537, 1024)).as_dict(private=False)
    with pytest.raises(ClientRegistrationError, match="2048"):
        register_client(
            name="x",
            jwks={"keys": [small]},
            redirect_uris=["https://a.example/cb"],
            scope="openid",
            grant_types=["authorization_code"],
        )


def test_non_json_body_at_the_token_endpoint_is_refused(api_user) -> None:
    response = api_user.http.post("/token", data=b"\xff\xfe{", content_type="application/json")
    _assert_refused(response)


def test_unknown_ec_curve_in_dpop_jwk_is_refused(api_user) -> None:
    key = ECKey.generate_key("P-384")
    head = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    proof = _unsigned_jwt(head, {"jti": "j" * 16})
    _assert_refused(api_user.client_credentials(dpop=proof), "invalid_dpop_proof")
