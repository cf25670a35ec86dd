"""An API user's app as tests see it: its key, client assertions (RFC 7523),
DPoP proofs (RFC 9449), PKCE, and the requests of the code flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

ISSUER = "http://senim.test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(kid: str | None = None) -> ECKey:
    key = ECKey.generate_key("P-256")
    key.ensure_kid() if kid is None else None
    return key


def public_jwks(key: ECKey, kid: str = "k1") -> dict:
    data = key.as_dict(private=False)
    data.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return {"keys": [data]}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge


@dataclass
class ApiUser:
    """Drives Senim over a Flask test client, or any object with get/post."""

    http: Any
    client_id: str
    key: ECKey
    now: Any  # callable returning the application's current time
    issuer: str = ISSUER
    kid: str = "k1"
    dpop_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))

    # -- credentials -------------------------------------------------------
    def assertion(self, **overrides: Any) -> str:
        key = overrides.pop("_key", None) or self.key
        now = int(self.now())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "ES256", "kid": self.kid}, claims, key)

    def client_auth(self, **overrides: Any) -> dict:
        return {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(**overrides),
        }

    def dpop(
        self,
        method: str,
        path: str,
        access_token: str | None = None,
        key: ECKey | None = None,
        header: dict | None = None,
        **claims: Any,
    ) -> str:
        key = key or self.dpop_key
        body = {"jti": uuid.uuid4().hex, "htm": method, "htu": self.issuer + path, "iat": int(self.now())}
        if access_token is not None:
            body["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
        head.update(header or {})
        return jwt.encode(head, body, key)

    @property
    def jkt(self) -> str:
        return self.dpop_key.thumbprint()

    # -- requests ------------------------------------------------------------
    def par(self, dpop: bool = False, auth: dict | None = None, **params: Any):
        self.verifier, challenge = pkce_pair()
        data = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": "https://app.example/cb",
            "scope": "openid accounts",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        data.update(params)
        data = {k: v for k, v in data.items() if v is not None}
        self.state = data.get("state")
        data.update(auth if auth is not None else self.client_auth())
        headers = {"DPoP": self.dpop("POST", "/par")} if dpop else {}
        return self.http.post("/par", data=data, headers=headers)

    def push_request_object(self, request_object: str):
        """PAR with a signed request object (RFC 9101) as the only parameters."""
        data = {"client_id": self.client_id, "request": request_object, **self.client_auth()}
        return self.http.post("/par", data=data)

    def token(self, data: dict, dpop: str | bool | None = True, auth: dict | None = None):
        body = dict(data)
        body.update(auth if auth is not None else self.client_auth())
        headers = {}
        if dpop is True:
            headers["DPoP"] = self.dpop("POST", "/token")
        elif isinstance(dpop, str):
            headers["DPoP"] = dpop
        return self.http.post("/token", data=body, headers=headers)

    def client_credentials(self, scope: str = "consents", **kwargs: Any):
        return self.token({"grant_type": "client_credentials", "scope": scope}, **kwargs)

    def exchange(self, code: str, verifier: str | None = None, **kwargs: Any):
        return self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": kwargs.pop("redirect_uri", "https://app.example/cb"),
                "code_verifier": verifier if verifier is not None else self.verifier,
            },
            **kwargs,
        )

    def refresh(self, refresh_token: str, **kwargs: Any):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token}, **kwargs)

    # -- the platform's APIs with a DPoP-bound access token --------------------------
    def call(self, method: str, path: str, token: str, **kwargs: Any):
        """``method path`` with ``Authorization: DPoP token`` and a fresh proof carrying ``ath``."""
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("Authorization", f"DPoP {token}")
        headers.setdefault("DPoP", self.dpop(method, path.split("?")[0], access_token=token))
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def consents_token(self) -> str:
        answer = self.client_credentials()
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["access_token"]
