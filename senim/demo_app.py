"""The demo API user's side of a customer login, for `make run`: ``senim demo login``.

It does what an API user's app does, against the running platform over HTTP:
asks for a consent (``POST /consents`` with a client-credentials token),
pushes the authorization request naming it (PAR, ``private_key_jwt`` with
the demo client's key, PKCE S256, DPoP-bound), prints the address for the
customer's browser, receives the browser at its redirect URI
(``http://127.0.0.1:8001/callback``), checks ``state`` and ``iss``, exchanges
the code with a DPoP proof and prints who signed in, how, and what the
customer consented to (never the tokens themselves).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from senim.demo import DEMO_CLIENT_ID, DEMO_REDIRECT_URI

HTTP_TIMEOUT = 10


class DemoLoginFailed(Exception):
    """The platform refused a step; the message says which and why."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class DemoApiUser:
    issuer: str
    key: ECKey
    kid: str
    dpop_key: ECKey

    @classmethod
    def from_key_file(cls, issuer: str, key_file: Path) -> DemoApiUser:
        data = json.loads(key_file.read_text())
        return cls(issuer, ECKey.import_key(data), data.get("kid", ""), ECKey.generate_key("P-256"))

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": DEMO_CLIENT_ID,
            "sub": DEMO_CLIENT_ID,
            "aud": self.issuer,  # Senim accepts only its issuer identifier as the audience
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

    def _dpop(self, method: str, path: str, access_token: str | None = None) -> str:
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": self.issuer + path, "iat": int(time.time())}
        if access_token is not None:  # RFC 9449 §4.2: a resource request's proof names the token
            claims["ath"] = _b64url(hashlib.sha256(access_token.encode()).digest())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.dpop_key.as_dict(private=False)}
        return jwt.encode(header, claims, self.dpop_key)

    def ask_consent(self, provider_ids: list[str], purpose: str) -> str:
        """A consent awaiting the customer (accounts and balances, 90 days); its id."""
        answer = requests.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": "consents", **self._auth()},
            headers={"DPoP": self._dpop("POST", "/token")},
            timeout=HTTP_TIMEOUT,
        )
        if answer.status_code != 200:
            raise DemoLoginFailed(f"token request refused ({answer.status_code}): {answer.text[:300]}")
        token = answer.json()["access_token"]
        expires = datetime.now(UTC) + timedelta(days=90)
        body = {
            "Data": {
                "Permissions": ["ReadAccountsBasic", "ReadBalances", "ReadTransactionsBasic"],
                "ExpirationDateTime": expires.isoformat(timespec="seconds"),
                "ProviderIds": provider_ids,
                "Purpose": purpose,
            }
        }
        answer = requests.post(
            f"{self.issuer}/consents",
            json=body,
            headers={"Authorization": f"DPoP {token}", "DPoP": self._dpop("POST", "/consents", token)},
            timeout=HTTP_TIMEOUT,
        )
        if answer.status_code != 201:
            raise DemoLoginFailed(f"consent request refused ({answer.status_code}): {answer.text[:300]}")
        return answer.json()["Data"]["ConsentId"]

    def push(
        self, state: str, nonce: str, challenge: str, login_hint: str | None, consent_id: str | None = None
    ) -> str:
        """PAR (RFC 9126); returns the address to open in the customer's browser."""
        details = [{"type": "account_information", "consent_id": consent_id}] if consent_id else None
        data = {
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": DEMO_REDIRECT_URI,
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
        answer = requests.post(f"{self.issuer}/par", data=data, timeout=HTTP_TIMEOUT)
        if answer.status_code != 201:
            raise DemoLoginFailed(f"PAR refused ({answer.status_code}): {answer.text[:300]}")
        request_uri = answer.json()["request_uri"]
        return f"{self.issuer}/authorize?" + urlencode(
            {"client_id": DEMO_CLIENT_ID, "request_uri": request_uri}
        )

    def exchange(self, code: str, verifier: str) -> dict:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_verifier": verifier,
            **self._auth(),
        }
        answer = requests.post(
            f"{self.issuer}/token",
            data=data,
            headers={"DPoP": self._dpop("POST", "/token")},
            timeout=HTTP_TIMEOUT,
        )
        if answer.status_code != 200:
            raise DemoLoginFailed(f"token request refused ({answer.status_code}): {answer.text[:300]}")
        return answer.json()

    def id_token_claims(self, id_token: str) -> dict:
        jwks = requests.get(f"{self.issuer}/jwks", timeout=HTTP_TIMEOUT).json()
        return jwt.decode(id_token, KeySet.import_key_set(jwks)).claims


def _wait_for_callback(state: str, timeout: float) -> dict[str, str]:
    """Serve the redirect URI until the answer carrying ``state`` arrives; its query parameters."""
    parts = urlsplit(DEMO_REDIRECT_URI)
    received: dict[str, str] = {}
    done = threading.Event()

    class Callback(BaseHTTPRequestHandler):
        timeout = 5  # an idle connection cannot hold the demo app past its deadline

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            answer = dict(parse_qsl(url.query))
            # another page or program hitting the port does not end the wait
            if url.path != parts.path or not hmac.compare_digest(answer.get("state", ""), state):
                self.send_error(404)
                return
            received.update(answer)
            body = (
                b"<!doctype html><meta charset=utf-8><title>Senim demo app</title>"
                b"<h1>The demo app received the answer.</h1><p>Back to the terminal.</p>"
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            done.set()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer((parts.hostname, parts.port), Callback)
    server.timeout = 0.5
    deadline = time.monotonic() + timeout
    try:
        while not done.is_set() and time.monotonic() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if not done.is_set():
        raise DemoLoginFailed("no answer reached the demo app in time")
    return received


@dataclass(frozen=True)
class DemoLogin:
    """What the demo app learnt: who signed in (the ID token) and what they consented to."""

    claims: dict
    authorization_details: list


def demo_login(
    issuer: str,
    key_file: Path,
    say: Callable[[str], None],
    login_hint: str | None = None,
    timeout: float = 600,
    provider_ids: list[str] | None = None,
) -> DemoLogin:
    """Run the API user's side of one login, asking for a consent at ``provider_ids`` if given."""
    user = DemoApiUser.from_key_file(issuer, key_file)
    verifier = secrets.token_urlsafe(48)
    challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    consent_id = None
    if provider_ids:
        consent_id = user.ask_consent(provider_ids, "Show all your accounts in the Senim demo budget app")
        say(f"Asked for consent {consent_id} (awaiting the customer).")
    url = user.push(state, nonce, challenge, login_hint, consent_id)
    say("Open this address in a browser within 60 seconds:")
    say(f"  {url}")
    say(f"(the demo app waits at {DEMO_REDIRECT_URI})")
    answer = _wait_for_callback(state, timeout)
    if answer.get("iss") != issuer:  # RFC 9207 §2.4
        raise DemoLoginFailed("the answer does not come from this issuer")
    if "error" in answer:
        raise DemoLoginFailed(
            f"the customer did not sign in: {answer['error']} ({answer.get('error_description', '')})"
        )
    tokens = user.exchange(answer["code"], verifier)
    claims = user.id_token_claims(tokens["id_token"])
    if claims.get("iss") != issuer or claims.get("aud") not in (DEMO_CLIENT_ID, [DEMO_CLIENT_ID]):
        raise DemoLoginFailed("the ID token was not issued by this issuer for the demo app")
    if claims.get("nonce") != nonce:
        raise DemoLoginFailed("the ID token's nonce is not the one sent")
    return DemoLogin(claims, tokens.get("authorization_details") or [])
