"""Discovery is truthful; JWKS publishes what verifiers need through rotation."""

from __future__ import annotations

import json

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt

from tests.support import flow


def test_discovery_documents_validate_and_match_the_endpoints(http) -> None:
    oidc = http.get("/.well-known/openid-configuration").get_json()
    oauth = http.get("/.well-known/oauth-authorization-server").get_json()
    assert oidc == oauth
    # Authlib's validators insist on https; the test issuer is http.
    as_https = json.loads(json.dumps(oidc).replace("http://senim.test", "https://senim.test"))
    metadata = OpenIDProviderMetadata(as_https)
    for name in dir(metadata):
        # OIDC Discovery wants RS256 listed; FAPI 2.0 §5.4 forbids it, so Senim does not offer it.
        if name.startswith("validate_") and name != "validate_id_token_signing_alg_values_supported":
            getattr(metadata, name)()
    assert "RS256" not in oidc["id_token_signing_alg_values_supported"]
    AuthorizationServerMetadata(as_https).validate()
    assert oidc["issuer"] == "http://senim.test"
    assert oidc["require_pushed_authorization_requests"] is True
    assert oidc["response_types_supported"] == ["code"]
    assert oidc["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert oidc["code_challenge_methods_supported"] == ["S256"]
    assert oidc["authorization_response_iss_parameter_supported"] is True
    assert "account_information" in oidc["authorization_details_types_supported"]
    assert "ES256" in oidc["dpop_signing_alg_values_supported"]
    for name in (
        "token_endpoint",
        "pushed_authorization_request_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        path = oidc[name].removeprefix("http://senim.test")
        assert http.open(path, method="OPTIONS").status_code in (200, 405), name


def test_tokens_of_a_rotated_out_key_stay_valid_while_they_live(app, api_user, clock) -> None:
    from senim.keys import JWKS_MAX_AGE

    ring = app.extensions["senim.keyring"]
    token = flow.tokens(api_user)["access_token"]
    old_kid = jwt.decode(token, ring.verification_keyset()).header["kid"]
    # rotated a JWKS cache lifetime ago: the new key signs from now on
    new = ring.rotate(now=clock.now() - JWKS_MAX_AGE)
    kids = {k["kid"] for k in api_user.http.get("/jwks").get_json()["keys"]}
    assert {old_kid, new.kid} <= kids
    new_token = api_user.client_credentials().get_json()["access_token"]
    assert jwt.decode(new_token, ring.verification_keyset()).header["kid"] == new.kid
    body = api_user.http.post("/introspect", data={"token": token, **api_user.client_auth()}).get_json()
    assert body["active"] is True
    later = clock.now() + ring.retention_seconds + 1
    assert old_kid not in {k["kid"] for k in ring.jwks(now=later)["keys"]}


def test_a_new_key_is_published_before_it_signs(tmp_path) -> None:
    from senim.clock import SettableClock
    from senim.keys import JWKS_MAX_AGE, KeyRing

    clock = SettableClock()
    ring = KeyRing(tmp_path / "keys", "ES256", retention_seconds=600, clock=clock.now)
    ring.ensure()
    first = ring.signing_key
    new = ring.rotate()
    assert new.kid in {k["kid"] for k in ring.jwks()["keys"]}
    assert ring.signing_key.kid == first.kid
    clock.advance(JWKS_MAX_AGE)
    assert ring.signing_key.kid == new.kid
    assert first.kid in {k["kid"] for k in ring.jwks()["keys"]}
    clock.advance(601)
    assert ring.prune() == [first.kid]
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new.kid]


def test_jwks_publishes_public_keys_only(http) -> None:
    for key in http.get("/jwks").get_json()["keys"]:
        assert "d" not in key
        assert key["use"] == "sig"
        assert key["alg"] in ("ES256", "PS256")


def test_key_files_are_private(app) -> None:
    ring = app.extensions["senim.keyring"]
    for path in ring.key_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


def test_ps256_signing_keys_work(tmp_path) -> None:
    from senim.keys import KeyRing

    ring = KeyRing(tmp_path / "keys", "PS256", retention_seconds=600)
    ring.ensure()
    token = jwt.encode(
        {"alg": "PS256", "kid": ring.signing_key.kid}, {"a": 1}, ring.signing_key.key, algorithms=["PS256"]
    )
    assert jwt.decode(token, ring.verification_keyset(), algorithms=["PS256"]).claims == {"a": 1}


def test_health_and_readiness(http) -> None:
    assert http.get("/healthz").get_json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "signing_key": "ok"}


def test_openapi_document_is_valid_and_lists_every_endpoint(app, http) -> None:
    from openapi_spec_validator import validate

    document = http.get("/openapi/authorization-server.json").get_json()
    validate(document)
    # The authorization server's own endpoints; the customer and staff pages are HTML and the
    # consent API, the resource proxy and the registry have their own documents
    # (/openapi/consents.json, /openapi/open-banking.json, /openapi/registry.json; the
    # accreditation routes' paths: registry.openapi_accreditation).
    rules = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith(
            (
                "consent_ui.",
                "staff_ui.",
                "consents.",
                "resource_proxy.",
                "registry.",
                "registry_accreditation.",
            )
        )
    }
    idp_rules = {r for r in rules if not r.startswith(("/static", "/openapi", "/dev", "/.well-known/oauth"))}
    assert idp_rules <= set(document["paths"])
