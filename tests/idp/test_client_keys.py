"""Clients publishing their keys at a JWKS URI: fetched, cached, refetched for a new key id, rotated."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc.jwk import ECKey

from idp import client_keys
from idp.clients import ClientRegistrationError, register_client
from tests.support.api_user import ApiUser, public_jwks


class KeyServer:
    """The client's own server publishing its JWKS; counts how often the platform fetches it.

    ``answer`` may be set to misbehave: "cut" announces more bytes than it sends,
    "trickle" sends a byte at a time until told to stop."""

    def __init__(self) -> None:
        self.jwks: dict = {"keys": []}
        self.status = 200
        self.fetches = 0
        self.answer = "whole"
        self.stop_trickling = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server.jwks).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + (100 if server.answer == "cut" else 0)))
                self.end_headers()
                if server.answer == "trickle":
                    for byte in body:
                        if server.stop_trickling.wait(0.05):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *keys: tuple[str, ECKey]) -> None:
        self.jwks = {
            "keys": [
                {**key.as_dict(private=False), "kid": kid, "alg": "ES256", "use": "sig"} for kid, key in keys
            ]
        }

    def stop(self) -> None:
        self.stop_trickling.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def key_server():
    server = KeyServer()
    client_keys.forget_published_keys()
    yield server
    server.stop()
    client_keys.forget_published_keys()


@pytest.fixture
def publishing_client(app, http, clock, key_server) -> ApiUser:
    first = ECKey.generate_key("P-256")
    key_server.publish(("k1", first))
    register_client(
        name="Publishing app",
        jwks_uri=key_server.uri,
        redirect_uris=["https://app.example/cb"],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        client_id="publishing-app",
    )
    return ApiUser(http=http, client_id="publishing-app", key=first, now=clock.now)


def test_a_client_is_authenticated_with_the_keys_it_publishes(publishing_client, key_server):
    assert publishing_client.client_credentials().status_code == 200
    assert publishing_client.client_credentials().status_code == 200
    assert key_server.fetches == 1  # cached


def test_a_client_rotates_its_published_key_without_downtime(publishing_client, key_server, clock):
    assert publishing_client.client_credentials().status_code == 200
    second = ECKey.generate_key("P-256")
    key_server.publish(("k1", publishing_client.key), ("k2", second))
    clock.advance(client_keys.REFETCH_SECONDS)
    publishing_client.key, publishing_client.kid = second, "k2"
    answer = publishing_client.client_credentials()
    assert answer.status_code == 200, answer.get_json()
    assert key_server.fetches == 2  # the unknown key id made the platform look again


def test_made_up_key_ids_do_not_make_the_platform_fetch_again_and_again(publishing_client, key_server, clock):
    publishing_client.client_credentials()
    publishing_client.kid = "made-up"
    for _ in range(3):
        assert publishing_client.client_credentials().status_code == 401
    assert key_server.fetches == 1  # fetched moments ago: not again yet
    clock.advance(client_keys.REFETCH_SECONDS)
    for _ in range(3):
        assert publishing_client.client_credentials().status_code == 401
    assert key_server.fetches == 2  # one look for the unknown key id, then REFETCH_SECONDS of rest


def test_a_key_the_client_does_not_publish_is_refused(publishing_client, key_server):
    publishing_client.key = ECKey.generate_key("P-256")
    answer = publishing_client.client_credentials()
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("status", "published"),
    [(500, {"keys": []}), (200, {"keys": "nope"}), (200, {"keys": [{"kty": "EC", "d": "secret"}]})],
)
def test_an_unusable_published_jwks_is_a_refusal_not_a_crash(app, http, clock, key_server, status, published):
    key = ECKey.generate_key("P-256")
    register_client(
        name="Broken app",
        jwks_uri=key_server.uri,
        redirect_uris=["https://app.example/cb"],
        scope="consents",
        grant_types=["client_credentials"],
        client_id="broken-app",
    )
    key_server.status, key_server.jwks = status, published
    answer = ApiUser(http=http, client_id="broken-app", key=key, now=clock.now).client_credentials()
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"


def test_a_client_gives_either_a_jwks_or_a_jwks_uri(app):
    key = ECKey.generate_key("P-256")
    common = {
        "name": "x",
        "redirect_uris": ["https://a.example/cb"],
        "scope": "openid",
        "grant_types": ["authorization_code"],
    }
    with pytest.raises(ClientRegistrationError, match="either as a JWKS or as a JWKS URI"):
        register_client(**common, jwks=public_jwks(key), jwks_uri="https://a.example/jwks")
    with pytest.raises(ClientRegistrationError, match="either as a JWKS or as a JWKS URI"):
        register_client(**common)


@pytest.mark.parametrize(
    "uri",
    ["http://app.example/jwks", "ftp://a.example/k", "https://user:pw@a.example/k", "https://a.example/k#f"],
)
def test_a_jwks_uri_is_https(app, uri):
    with pytest.raises(ClientRegistrationError, match="JWKS URI"):
        register_client(
            name="x", jwks_uri=uri, redirect_uris=[], scope="consents", grant_types=["client_credentials"]
        )


def test_in_production_a_jwks_uri_names_a_public_host(app):
    with pytest.raises(ClientRegistrationError, match="public host"):
        register_client(
            name="x",
            jwks_uri="https://169.254.169.254/keys",
            redirect_uris=[],
            scope="consents",
            grant_types=["client_credentials"],
            production=True,
        )


def _key_id_it_does_not_know(client: ApiUser) -> ApiUser:
    client.key, client.kid = ECKey.generate_key("P-256"), "rotated"
    return client


@pytest.mark.parametrize("answer", ["cut", "trickle"])
def test_a_published_jwks_cut_short_or_trickled_is_a_refusal_within_the_deadline(
    publishing_client, key_server, clock, monkeypatch, answer
):
    assert publishing_client.client_credentials().status_code == 200
    monkeypatch.setattr(client_keys, "FETCH_DEADLINE", 0.5)  # the trickle needs seconds; the deadline is less
    key_server.answer = answer
    clock.advance(client_keys.REFETCH_SECONDS)
    refused = _key_id_it_does_not_know(publishing_client).client_credentials()
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    assert "answered" not in refused.get_json()["error_description"]  # nothing about the client's server


def test_a_failing_key_server_is_asked_at_most_once_per_refetch_period(app, http, clock, key_server):
    key = ECKey.generate_key("P-256")
    register_client(
        name="Down app",
        jwks_uri=key_server.uri,
        redirect_uris=[],
        scope="consents",
        grant_types=["client_credentials"],
        client_id="down-app",
    )
    key_server.status = 503
    client = ApiUser(http=http, client_id="down-app", key=key, now=clock.now)
    for _ in range(5):
        assert client.client_credentials().status_code == 401
    assert key_server.fetches == 1
    clock.advance(client_keys.REFETCH_SECONDS)
    client.client_credentials()
    assert key_server.fetches == 2


@pytest.mark.parametrize(
    "uri",
    [
        "https://127.1/jwks",
        "https://0x7f000001/jwks",
        "https://2130706433/jwks",
        "https://localhost./jwks",
        "https://[::1]/jwks",
        "https://10.1/jwks",
    ],
)
def test_in_production_the_platform_calls_public_addresses_only(app, uri):
    with pytest.raises(client_keys.NotAPublicAddress):
        client_keys.check_public_destination(uri)
    with pytest.raises(client_keys.JwksUnavailable):
        client_keys.fetch_jwks(uri, production=True)


def test_in_production_consent_events_are_not_sent_to_an_address_inside(app):
    from idp.consents.models import SecurityEvent
    from idp.consents.notifications import _attempt

    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(environment="production")
    try:
        result = _attempt(SecurityEvent(), "https://127.1/events")
    finally:
        app.extensions["senim.settings"] = settings
    assert (result.accepted, result.error) == (False, "notification URI not allowed")
