"""Interoperability with Authlib's own OAuth 2.0 client (requests integration).

``OAuth2Session`` authenticates with ``private_key_jwt`` through Authlib's
client-side ``PrivateKeyJWT``, registered with ``token_endpoint=<issuer>`` so
that the assertion's ``aud`` is the issuer (Authlib puts whatever
``token_endpoint`` it is given into ``aud``; Senim accepts only the issuer).
Authlib's client knows neither PAR nor DPoP nor RFC 9207: the DPoP proofs are
built here with joserfc and sent as a header on each request, the pushed
authorization request is posted with the session's client authentication,
and ``iss`` of the authorization response is checked by hand.

One difference in defaults is pinned down in
``test_authlib_default_assertion_lifetime_is_refused``: Authlib signs client
assertions valid for 3600 s; Senim refuses an ``exp`` more than
``client_assertion_max_age`` (300 s) ahead, which RFC 7523 §3 item 4 allows
("MAY reject JWTs with an exp claim value that is unreasonably far in the
future"). Clients pass ``expires_in`` (see ``ShortLivedPrivateKeyJWT``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.client import DEFAULT_HEADERS
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from idp.errors import ClientAssertionTooLongLived
from tests.interop.conftest import (
    ACR,
    AMR,
    HTTP_TIMEOUT,
    SUBJECT,
    LiveServer,
    RegisteredClient,
    act_as_browser,
)
from tests.support.api_user import b64url

CLIENT_ID = "interop-authlib-client"
ASSERTION_LIFETIME = 60


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's ``PrivateKeyJWT`` with a 60 s assertion instead of its 3600 s default.

    (Not through ``claims={"exp": ...}``: Authlib stores the generated ``jti``
    in that dict, so every later assertion would repeat it.)
    """

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=dict(self.headers or {}),
            alg=self.alg,
            expires_in=ASSERTION_LIFETIME,
        )


class DPoP:
    """The client's DPoP key and proofs (RFC 9449 §4.2), built with joserfc."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jwt.encode(header, claims, self.key)

    def token_headers(self, token_endpoint: str) -> dict:
        """What Authlib sends to the token endpoint by default, plus the proof."""
        return {**DEFAULT_HEADERS, "DPoP": self.proof("POST", token_endpoint)}


def _session(live: LiveServer, client: RegisteredClient, auth: PrivateKeyJWT | None = None) -> OAuth2Session:
    session = OAuth2Session(
        client.client_id,
        client.key,  # Authlib's private_key_jwt signs with the "client secret"
        token_endpoint_auth_method="private_key_jwt",
        scope="openid accounts",
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
        default_timeout=HTTP_TIMEOUT,
    )
    session.trust_env = False  # the server is on 127.0.0.1; never through a proxy
    session.register_client_auth_method(
        auth or ShortLivedPrivateKeyJWT(token_endpoint=live.issuer, headers={"kid": client.kid}, alg="ES256")
    )
    return session


def _discover(session: OAuth2Session, live: LiveServer) -> dict:
    response = session.get(f"{live.issuer}/.well-known/openid-configuration", withhold_token=True)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == live.issuer
    session.metadata["token_endpoint"] = metadata["token_endpoint"]
    return metadata


def _keyset(session: OAuth2Session, metadata: dict) -> KeySet:
    response = session.get(metadata["jwks_uri"], withhold_token=True)
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def _verify(keyset: KeySet, token: str, typ: str) -> tuple[dict, dict]:
    decoded = jwt.decode(token, keyset, algorithms=["ES256", "PS256"])
    assert decoded.header["typ"] == typ
    return dict(decoded.claims), dict(decoded.header)


def test_authlib_default_assertion_lifetime_is_refused(live_server: LiveServer, register_client) -> None:
    """Authlib's stock PrivateKeyJWT (exp = iat + 3600) against Senim's 300 s cap."""
    client = register_client(CLIENT_ID)
    stock = PrivateKeyJWT(token_endpoint=live_server.issuer, headers={"kid": client.kid}, alg="ES256")
    session = _session(live_server, client, auth=stock)
    metadata = _discover(session, live_server)
    dpop = DPoP()
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(
            metadata["token_endpoint"],
            grant_type="client_credentials",
            scope="consents",
            headers=dpop.token_headers(metadata["token_endpoint"]),
        )
    assert refused.value.error == "invalid_client"
    assert refused.value.description == ClientAssertionTooLongLived.description


def test_authlib_client_credentials(live_server: LiveServer, register_client) -> None:
    started_at = time.monotonic()
    client = register_client(CLIENT_ID)
    session = _session(live_server, client)
    metadata = _discover(session, live_server)
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    dpop = DPoP()

    token = session.fetch_token(
        metadata["token_endpoint"],
        grant_type="client_credentials",
        scope="consents",
        headers=dpop.token_headers(metadata["token_endpoint"]),
    )

    assert token["token_type"] == "DPoP"
    assert token["scope"] == "consents"
    assert "refresh_token" not in token
    assert 0 < token["expires_in"] <= 300
    claims, _ = _verify(_keyset(session, metadata), token["access_token"], "at+jwt")
    assert claims["cnf"] == {"jkt": dpop.jkt}
    assert claims["client_id"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == claims["iss"] == live_server.issuer
    assert time.monotonic() - started_at < 10


def test_authlib_code_flow_with_par_dpop_and_refresh(live_server: LiveServer, register_client) -> None:
    started_at = time.monotonic()
    client = register_client(CLIENT_ID)
    session = _session(live_server, client)
    metadata = _discover(session, live_server)
    assert metadata["require_pushed_authorization_requests"] is True
    assert metadata["authorization_response_iss_parameter_supported"] is True
    keyset = _keyset(session, metadata)
    dpop = DPoP()
    token_endpoint = metadata["token_endpoint"]

    # The authorization request as Authlib builds it (PKCE S256, state, nonce)…
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    request_params = dict(parse_qsl(urlsplit(url).query))
    assert request_params["code_challenge_method"] == "S256"
    # … pushed with the session's private_key_jwt and a DPoP proof (RFC 9126, RFC 9449 §10).
    par_endpoint = metadata["pushed_authorization_request_endpoint"]
    pushed = session.post(
        par_endpoint,
        data=request_params,
        auth=session.client_auth("private_key_jwt"),
        headers={"DPoP": dpop.proof("POST", par_endpoint)},
        withhold_token=True,
    )
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    authorization_url = add_params_to_uri(
        metadata["authorization_endpoint"],
        [("client_id", client.client_id), ("request_uri", pushed.json()["request_uri"])],
    )

    callback = act_as_browser(live_server, authorization_url)

    # RFC 9207 §2.4: the client compares iss with the issuer it talked to.
    response = dict(parse_qsl(urlsplit(callback).query))
    assert callback.startswith(client.redirect_uri + "?")
    assert response["iss"] == live_server.issuer
    assert response["state"] == state

    # The code exchange: Authlib checks state, sends code, redirect_uri and code_verifier.
    token = session.fetch_token(
        token_endpoint,
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
        headers=dpop.token_headers(token_endpoint),
    )
    assert token["token_type"] == "DPoP"
    assert set(token["scope"].split()) == {"openid", "accounts"}
    assert "refresh_token" in token
    access, _ = _verify(keyset, token["access_token"], "at+jwt")
    assert access["cnf"] == {"jkt": dpop.jkt}
    assert access["sub"] == SUBJECT

    # The ID token, validated by Authlib's OIDC claims rules (OIDC Core §3.1.3.7).
    id_claims, id_header = _verify(keyset, token["id_token"], "JWT")
    id_token = CodeIDToken(
        id_claims,
        id_header,
        options={
            "iss": {"essential": True, "value": live_server.issuer},
            "aud": {"essential": True, "value": client.client_id},
        },
        params={"nonce": nonce, "client_id": client.client_id, "access_token": token["access_token"]},
    )
    id_token.validate(now=int(time.time()), leeway=5)
    assert id_token["sub"] == SUBJECT
    assert id_token["acr"] == ACR
    assert id_token["amr"] == AMR

    # Refresh with the same DPoP key: a new refresh token, the old one spent.
    first_refresh = token["refresh_token"]
    refreshed = session.refresh_token(
        token_endpoint, refresh_token=first_refresh, headers=dpop.token_headers(token_endpoint)
    )
    assert refreshed["token_type"] == "DPoP"
    assert refreshed["refresh_token"] != first_refresh
    refreshed_claims, _ = _verify(keyset, refreshed["access_token"], "at+jwt")
    assert refreshed_claims["cnf"] == {"jkt": dpop.jkt}

    # UserInfo with the refreshed token: DPoP scheme and a proof with ath (RFC 9449 §7.1).
    userinfo_endpoint = metadata["userinfo_endpoint"]
    userinfo = session.get(
        userinfo_endpoint,
        withhold_token=True,
        headers={
            "Authorization": f"DPoP {refreshed['access_token']}",
            "DPoP": dpop.proof("GET", userinfo_endpoint, access_token=refreshed["access_token"]),
        },
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {"sub": SUBJECT}

    # Once its successor has been used, the spent refresh token is refused
    # (RFC 9700 §4.14.2; a retry of a lost response would still be accepted).
    session.refresh_token(
        token_endpoint, refresh_token=refreshed["refresh_token"], headers=dpop.token_headers(token_endpoint)
    )
    with pytest.raises(OAuthError) as reused:
        session.refresh_token(
            token_endpoint, refresh_token=first_refresh, headers=dpop.token_headers(token_endpoint)
        )
    assert reused.value.error == "invalid_grant"
    assert time.monotonic() - started_at < 10
