"""The bank fetches the platform's JWKS over HTTP, caches it, and refetches once when the platform rotates keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from reference_bank import BankConfig, create_bank_app
from reference_bank.assertion import REFETCH_INTERVAL
from tests.reference_bank.conftest import BANK_ID, ISSUER, Caller, Platform, platform_key, public_jwks


class JwksServer:
    """A tiny platform JWKS endpoint on loopback, counting its fetches."""

    def __init__(self) -> None:
        self.jwks: dict = {"keys": []}
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server.jwks).encode()
                self.send_response(200 if self.path == "/jwks" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


def _bank_fetching_from(jwks_server: JwksServer, clock) -> BankConfig:
    return BankConfig(
        bank_id=BANK_ID,
        name="Altyn",
        bank_code="101",
        platform_issuer=ISSUER,
        jwks_url=jwks_server.url,
        now=clock,
    )


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_the_jwks_is_fetched_over_http_once_and_refetched_on_rotation(
    jwks_server, platform: Platform, clock
) -> None:
    jwks_server.jwks = public_jwks(platform.key)
    config = _bank_fetching_from(jwks_server, clock)
    call = Caller(create_bank_app(config).test_client(), platform)
    assert call.get("/accounts").status_code == 200
    assert call.get("/accounts").status_code == 200
    assert jwks_server.fetches == 1  # cached

    rotated = platform_key(kid="platform-2")
    jwks_server.jwks = public_jwks(platform.key, rotated)
    platform.key = rotated
    clock.now += REFETCH_INTERVAL
    assert call.get("/accounts").status_code == 200
    assert jwks_server.fetches == 2

    # made-up kids do not make the bank fetch again and again
    stranger = platform_key(kid="unknown")
    platform.key = stranger
    assert call.get("/accounts").status_code == 401
    assert call.get("/accounts").status_code == 401
    assert jwks_server.fetches == 2


def test_an_unreachable_platform_is_a_401_not_a_crash(platform: Platform, clock) -> None:
    config = BankConfig(
        bank_id=BANK_ID, name="Altyn", bank_code="101", platform_issuer="http://127.0.0.1:9", now=clock
    )
    call = Caller(create_bank_app(config).test_client(), platform)
    answer = call.get("/accounts")
    assert answer.status_code == 401
    assert answer.json["Message"] == "the platform's keys could not be fetched"


def test_a_platform_that_is_down_is_asked_again_only_after_the_interval(platform: Platform, clock) -> None:
    fetches = []

    def down(url: str) -> dict:
        fetches.append(url)
        raise requests.ConnectionError("platform down")

    config = BankConfig(
        bank_id=BANK_ID, name="Altyn", bank_code="101", platform_issuer=ISSUER, now=clock, jwks_fetcher=down
    )
    call = Caller(create_bank_app(config).test_client(), platform)
    assert call.get("/accounts").status_code == 401
    assert call.get("/accounts").status_code == 401
    assert fetches == [f"{ISSUER}/jwks"]
    clock.now += REFETCH_INTERVAL
    assert call.get("/accounts").status_code == 401
    assert len(fetches) == 2


def test_keys_fetched_at_start_serve_the_first_calls(jwks_server, platform: Platform, clock) -> None:
    jwks_server.jwks = public_jwks(platform.key)
    config = _bank_fetching_from(jwks_server, clock)
    app = create_bank_app(config)
    assert app.config["VERIFIER"].keys.prefetch() is True
    assert jwks_server.fetches == 1

    # The platform is not asked again while the bank answers (it may be busy waiting for this answer).
    jwks_server.httpd.shutdown()
    call = Caller(app.test_client(), platform)
    assert call.get("/accounts").status_code == 200
    assert jwks_server.fetches == 1


def test_a_platform_not_up_at_the_bank_s_start_is_asked_on_the_first_call(platform: Platform, clock) -> None:
    answers = [requests.ConnectionError("platform not up yet"), public_jwks(platform.key)]
    fetches = []

    def fetch(url: str) -> dict:
        fetches.append(url)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    config = BankConfig(
        bank_id=BANK_ID, name="Altyn", bank_code="101", platform_issuer=ISSUER, now=clock, jwks_fetcher=fetch
    )
    app = create_bank_app(config)
    assert app.config["VERIFIER"].keys.prefetch() is False

    # no waiting out the refetch interval: the failed start does not count as a recent failure
    assert Caller(app.test_client(), platform).get("/accounts").status_code == 200
    assert len(fetches) == 2
