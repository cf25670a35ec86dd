"""The API user's side of Senim, over HTTP only, as a fintech's backend does it.

Everything an API user's app sends the platform: a client-credentials token
for the consent API, ``POST /consents`` and ``DELETE /consents/{id}``, the
pushed authorization request (RFC 9126) with ``private_key_jwt`` (RFC 7523),
PKCE S256 (RFC 7636) and a DPoP key bound up front (``dpop_jkt``, RFC 9449
§10), the code exchange and refresh with DPoP proofs, and calls to the
resource proxy with ``Authorization: DPoP`` and a proof naming the token
(``ath``, RFC 9449 §4.2).

Used by the demo web app (``demo_app``) and by ``senim demo login``. It
imports nothing of the platform: only its URL and the client's private key.
Tokens never appear in an exception's message (nor anywhere it could be
logged).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

#: The demo fintech's client at the platform (``senim demo seed`` registers it).
DEMO_CLIENT_ID = "senim-demo-app"
#: Every HTTP call to the platform waits at most this long (connect, read).
HTTP_TIMEOUT = (3.0, 10.0)
#: Where the resource proxy serves the account-information standard, under the platform.
OPEN_BANKING_PREFIX = "/open-banking/v1"
#: What the demo asks to see: IBANs and holder (Detail), balances, transactions with merchants.
DEFAULT_PERMISSIONS = ("ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail")
INTERACTION_HEADER = "x-fapi-interaction-id"


class PlatformRefused(Exception):
    """The platform refused a step; ``error`` is its OAuth error code when it gave one."""

    def __init__(self, step: str, status: int | None, error: str | None = None, detail: str = "") -> None:
        self.step, self.status, self.error, self.detail = step, status, error, detail
        shown = f"{step} refused ({status})" if status is not None else step
        super().__init__(f"{shown}: {error or ''} {detail}".rstrip(" :"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


_local = threading.local()


def _http() -> requests.Session:
    """One pooled session per thread (requests' sessions are not shared across threads)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # the platform is called directly, never through an env proxy
        _local.session = session
    return session


def _refusal(step: str, answer: requests.Response) -> PlatformRefused:
    """The platform's refusal, read from its OAuth or Open Banking error body (never a token)."""
    error, detail = None, ""
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            error, detail = body["error"], str(body.get("error_description", ""))[:200]
        elif isinstance(body.get("Errors"), list) and body["Errors"]:
            first = body["Errors"][0] if isinstance(body["Errors"][0], dict) else {}
            error, detail = first.get("ErrorCode"), str(body.get("Message", ""))[:200]
    return PlatformRefused(step, answer.status_code, error, detail)


@dataclass(frozen=True)
class ApiUser:
    """One API user's client: its signing key (``private_key_jwt``) and a DPoP key."""

    issuer: str
    key: ECKey
    kid: str
    dpop_key: ECKey
    client_id: str = DEMO_CLIENT_ID
    redirect_uri: str = ""

    @classmethod
    def from_key_file(
        cls, issuer: str, key_file: Path, client_id: str = DEMO_CLIENT_ID, redirect_uri: str = ""
    ) -> ApiUser:
        """The client whose private JWK is in ``key_file``, with a new DPoP key."""
        data = json.loads(key_file.read_text())
        return cls(
            issuer.rstrip("/"),
            ECKey.import_key(data),
            data.get("kid", ""),
            ECKey.generate_key("P-256"),
            client_id,
            redirect_uri,
        )

    def with_dpop_key(self, dpop_key: ECKey) -> ApiUser:
        """The same client using ``dpop_key``: a grant bound to a key is used only with it."""
        return dataclasses.replace(self, dpop_key=dpop_key)

    # -- credentials ---------------------------------------------------------------------
    def _assertion(self) -> str:
        # RFC 7523 §3: iss = sub = client_id; Senim accepts only its issuer as the audience.
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": "ES256", "kid": self.kid}, claims, self.key)

    def _auth(self) -> dict:
        return {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self._assertion(),
        }

    def dpop_proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """RFC 9449 §4.2: a proof for ``method url`` (no query), naming ``access_token`` if given."""
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url.split("?")[0], "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.dpop_key.as_dict(private=False)}
        return jwt.encode(header, claims, self.dpop_key)

    def _token_request(self, step: str, form: dict) -> dict:
        url = f"{self.issuer}/token"
        answer = _http().post(
            url,
            data={**form, **self._auth()},
            headers={"DPoP": self.dpop_proof("POST", url)},
            timeout=HTTP_TIMEOUT,
        )
        if answer.status_code != 200:
            raise _refusal(step, answer)
        return answer.json()

    def _consents_token(self) -> str:
        tokens = self._token_request(
            "token request", {"grant_type": "client_credentials", "scope": "consents"}
        )
        return tokens["access_token"]

    def _consent_api(self, method: str, path: str, step: str, **kwargs: object) -> requests.Response:
        token = self._consents_token()
        url = f"{self.issuer}{path}"
        headers = {
            "Authorization": f"DPoP {token}",
            "DPoP": self.dpop_proof(method, url, token),
            INTERACTION_HEADER: str(uuid.uuid4()),
        }
        return _http().request(method, url, headers=headers, timeout=HTTP_TIMEOUT, **kwargs)

    # -- consents -------------------------------------------------------------------------
    def ask_consent(
        self,
        provider_ids: list[str],
        purpose: str,
        permissions: tuple[str, ...] = ("ReadAccountsBasic", "ReadBalances", "ReadTransactionsBasic"),
        days: int = 90,
    ) -> str:
        """``POST /consents``: a consent awaiting the customer; its id."""
        expires = datetime.now(UTC) + timedelta(days=days)
        body = {
            "Data": {
                "Permissions": list(permissions),
                "ExpirationDateTime": expires.isoformat(timespec="seconds"),
                "ProviderIds": provider_ids,
                "Purpose": purpose,
            }
        }
        answer = self._consent_api("POST", "/consents", "consent request", json=body)
        if answer.status_code != 201:
            raise _refusal("consent request", answer)
        return answer.json()["Data"]["ConsentId"]

    def consent_status(self, consent_id: str) -> str | None:
        """``GET /consents/{id}``: its status, or None when the platform does not know it."""
        answer = self._consent_api("GET", f"/consents/{consent_id}", "consent lookup")
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise _refusal("consent lookup", answer)
        return answer.json()["Data"]["Status"]

    def end_consent(self, consent_id: str) -> None:
        """``DELETE /consents/{id}``: the API user ends it (revoked, or rejected if still awaiting)."""
        answer = self._consent_api("DELETE", f"/consents/{consent_id}", "ending the consent")
        if answer.status_code not in (204, 404):  # 404: gone already, nothing left to end
            raise _refusal("ending the consent", answer)

    # -- the code flow ---------------------------------------------------------------------
    def push(
        self, state: str, nonce: str, challenge: str, login_hint: str | None, consent_id: str | None = None
    ) -> str:
        """PAR (RFC 9126); the address to send the customer's browser to."""
        details = [{"type": "account_information", "consent_id": consent_id}] if consent_id else None
        data = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid accounts",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "dpop_jkt": self.dpop_key.thumbprint(),
            **({"login_hint": login_hint} if login_hint else {}),
            **({"authorization_details": json.dumps(details)} if details else {}),
            **self._auth(),
        }
        answer = _http().post(f"{self.issuer}/par", data=data, timeout=HTTP_TIMEOUT)
        if answer.status_code != 201:
            raise _refusal("PAR", answer)
        request_uri = answer.json()["request_uri"]
        return f"{self.issuer}/authorize?" + urlencode(
            {"client_id": self.client_id, "request_uri": request_uri}
        )

    def exchange(self, code: str, verifier: str) -> dict:
        """The code for tokens (RFC 6749 §4.1.3, PKCE verifier, DPoP-bound)."""
        return self._token_request(
            "token request",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
        )

    def refresh(self, refresh_token: str) -> dict:
        """New tokens for a refresh token (rotated: keep the new one)."""
        return self._token_request("refresh", {"grant_type": "refresh_token", "refresh_token": refresh_token})

    def platform_keys(self) -> KeySet:
        answer = _http().get(f"{self.issuer}/jwks", timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        return KeySet.import_key_set(answer.json())

    def id_token_claims(self, id_token: str) -> dict:
        """The ID token's claims once its signature is verified with the platform's keys."""
        return jwt.decode(id_token, self.platform_keys(), algorithms=["ES256", "PS256"]).claims

    # -- the resource proxy -------------------------------------------------------------------
    def read(
        self, access_token: str, provider_id: str, path: str, params: dict | None = None
    ) -> requests.Response:
        """``GET /open-banking/v1{path}`` at the bank ``provider_id``, through the platform's proxy."""
        url = f"{self.issuer}{OPEN_BANKING_PREFIX}{path}"
        headers = {
            "Authorization": f"DPoP {access_token}",
            "DPoP": self.dpop_proof("GET", url, access_token),
            "x-provider-id": provider_id,
            INTERACTION_HEADER: str(uuid.uuid4()),
            "Accept": "application/json",
        }
        return _http().get(url, params=params or None, headers=headers, timeout=HTTP_TIMEOUT)
