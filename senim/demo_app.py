"""The demo API user's side of a customer login, for `make run`: ``senim demo login``.

It does what an API user's app does, against the running platform over HTTP
(with the client code of the demo web app, ``demo_app.api_user``):
asks for a consent (``POST /consents`` with a client-credentials token),
pushes the authorization request naming it (PAR, ``private_key_jwt`` with
the demo client's key, PKCE S256, DPoP-bound), prints the address for the
customer's browser, receives the browser at its redirect URI
(``http://127.0.0.1:8001/callback``), checks ``state`` and ``iss``, exchanges
the code with a DPoP proof and prints who signed in, how, and what the
customer consented to (never the tokens themselves).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from demo_app.api_user import ApiUser, PlatformRefused, pkce_pair
from senim.demo import DEMO_CLIENT_ID, DEMO_REDIRECT_URI

#: A step the platform refused, or a check of the demo app's that failed.
DemoLoginFailed = PlatformRefused


def _failed(message: str) -> DemoLoginFailed:
    return DemoLoginFailed(message, None)


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
        raise _failed("no answer reached the demo app in time")
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
    user = ApiUser.from_key_file(issuer, key_file, DEMO_CLIENT_ID, DEMO_REDIRECT_URI)
    verifier, challenge = pkce_pair()
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
        raise _failed("the answer does not come from this issuer")
    if "error" in answer:
        raise _failed(
            f"the customer did not sign in: {answer['error']} ({answer.get('error_description', '')})"
        )
    tokens = user.exchange(answer["code"], verifier)
    claims = user.id_token_claims(tokens["id_token"])
    if claims.get("iss") != issuer or claims.get("aud") not in (DEMO_CLIENT_ID, [DEMO_CLIENT_ID]):
        raise _failed("the ID token was not issued by this issuer for the demo app")
    if claims.get("nonce") != nonce:
        raise _failed("the ID token's nonce is not the one sent")
    return DemoLogin(claims, tokens.get("authorization_details") or [])
