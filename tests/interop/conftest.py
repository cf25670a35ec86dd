"""A live Senim for independent clients (openid-client, Authlib's client).

The application from ``create_app`` is served by Werkzeug in a background
thread on a free port of 127.0.0.1, with ``issuer = http://127.0.0.1:<port>``;
the port is bound before the application is created, so the issuer is known
up front and nothing races for the port. The database comes from the same
``backend_url`` parametrization as ``tests/conftest.py`` (SQLite, and
PostgreSQL when SENIM_TEST_DATABASE_URL is set), its schema from the Alembic
migrations, and every table is emptied after each test.

The application runs on the system clock: the clients sign their DPoP proofs
and client assertions with the real time. A test that would otherwise wait
(a new SMS code to the same phone comes only a minute after the last) moves
the server's clock forward instead, ``live_server.clock.advance(61)``, and
signs with ``live_server.clock.now``; the clock is back on time after the test.

``live_server`` takes optional settings overrides through indirect
parametrization, e.g.
``@pytest.mark.parametrize("live_server", [{"dpop_require_nonce": True}], indirect=True)``;
each distinct set of overrides gets its own server, started once per session
and backend.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from joserfc.jwk import ECKey
from werkzeug.serving import BaseWSGIServer, make_server

from senim.app import create_app
from senim.database import db
from tests.conftest import make_settings
from tests.interop import browser
from tests.support.api_user import ApiUser, public_jwks
from tests.support.customer import put_on_record
from tests.support.database import empty_tables

#: Where the browser is sent back to. Nothing listens there: the test reads
#: the Location header and hands it to the client.
REDIRECT_URI = "http://127.0.0.1:8976/cb"
CLIENT_SCOPE = "openid accounts consents"
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
SUBJECT = "customer-interop"
ACR = "urn:senim:loa:2fa"
AMR = ["face", "sms"]
#: Every HTTP call the tests make waits at most this long.
HTTP_TIMEOUT = 10


class LiveClock:
    """The system clock, which a test may move forward instead of waiting."""

    def __init__(self) -> None:
        self._ahead = 0.0

    def now(self) -> float:
        return time.time() + self._ahead

    def advance(self, seconds: float) -> None:
        self._ahead += seconds

    def back_on_time(self) -> None:
        self._ahead = 0.0


class LiveServer(NamedTuple):
    issuer: str
    app: Flask
    clock: LiveClock


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    key: ECKey
    kid: str = "k1"
    redirect_uri: str = REDIRECT_URI

    def private_jwk(self) -> dict:
        """The client's private key as a JWK (ES256, with kid), for an external client."""
        data = self.key.as_dict(private=True)
        data.update({"kid": self.kid, "alg": "ES256", "use": "sig"})
        return data


class _Running(NamedTuple):
    live: LiveServer
    server: BaseWSGIServer
    thread: threading.Thread


def _start(settings_dir: Path, backend_url: str, overrides: dict) -> _Running:
    from flask_migrate import upgrade

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        issuer = f"http://127.0.0.1:{port}"
        settings = make_settings(settings_dir, backend_url).with_overrides(
            issuer=issuer, bind=f"127.0.0.1:{port}", **overrides
        )
        clock = LiveClock()
        app = create_app(settings, clock=clock)
        with app.app_context():
            upgrade()  # the schema comes from the migrations, on both databases
        # Werkzeug takes a duplicate of the already listening socket.
        server = make_server("127.0.0.1", port, app, threaded=True, fd=sock.fileno())
    finally:
        sock.close()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"senim-{port}", daemon=True
    )
    thread.start()
    return _Running(LiveServer(issuer, app, clock), server, thread)


class _ServerPool:
    """Live servers of one backend, one per distinct set of settings overrides."""

    def __init__(self, backend_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.backend_url = backend_url
        self.tmp_path_factory = tmp_path_factory
        self.running: dict[tuple, _Running] = {}

    def get(self, overrides: dict) -> LiveServer:
        key = tuple(sorted(overrides.items()))
        if key not in self.running:
            data_dir = self.tmp_path_factory.mktemp("interop-data")
            self.running[key] = _start(data_dir, self.backend_url, overrides)
        return self.running[key].live

    def stop(self) -> None:
        for running in self.running.values():
            running.server.shutdown()
            running.thread.join(timeout=HTTP_TIMEOUT)
            running.server.server_close()
            with running.live.app.app_context():
                db.engine.dispose()
        self.running.clear()


@pytest.fixture(scope="session")
def live_server_pool(backend_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ServerPool]:
    pool = _ServerPool(backend_url, tmp_path_factory)
    yield pool
    pool.stop()


@pytest.fixture
def live_server(request: pytest.FixtureRequest, live_server_pool: _ServerPool) -> Iterator[LiveServer]:
    overrides = dict(getattr(request, "param", None) or {})
    live = live_server_pool.get(overrides)
    try:
        yield live
    finally:
        empty_tables(live.app)
        live.app.extensions["senim.limiter"].reset()
        live.clock.back_on_time()


@pytest.fixture
def register_client(live_server: LiveServer):
    """Register a client (EC P-256 key, loopback redirect URI, all three grants)."""
    from idp.clients import register_client as register

    def _register(client_id: str, **overrides: object) -> RegisteredClient:
        key = ECKey.generate_key("P-256")
        params = {
            "name": f"Interop {client_id}",
            "jwks": public_jwks(key, kid="k1"),
            "redirect_uris": [REDIRECT_URI],
            "scope": CLIENT_SCOPE,
            "grant_types": list(GRANT_TYPES),
            "client_id": client_id,
        }
        params.update(overrides)
        with live_server.app.app_context():
            register(**params)
        return RegisteredClient(client_id=client_id, key=key)

    return _register


# -- the customer's browser and the app behind it (tests/interop/browser.py) ---------------
@pytest.fixture
def camera_file(tmp_path: Path) -> Path:
    """The fake camera's file; a placeholder until the test writes the sequence for a face page."""
    return browser.placeholder_camera(tmp_path / "camera.y4m")


@pytest.fixture
def page(camera_file: Path) -> Iterator:
    """A page of headless Chromium whose camera plays ``camera_file``."""
    with browser.chromium_page(camera_file, REDIRECT_URI) as opened:
        yield opened


@pytest.fixture
def app_user(live_server: LiveServer, register_client) -> ApiUser:
    """The app "Demo Wallet", with the demo people on record; it talks to the server over its back
    channel (the application's test client), signing with the server's clock."""
    registered = register_client("browser-app", name="Demo Wallet")
    with live_server.app.app_context():
        put_on_record(live_server.app)
    return ApiUser(
        http=live_server.app.test_client(),
        client_id=registered.client_id,
        key=registered.key,
        now=live_server.clock.now,
        issuer=live_server.issuer,
    )


def browser_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never through a proxy: the server is on 127.0.0.1
    return session


def act_as_browser(live: LiveServer, authorization_url: str, subject: str = SUBJECT) -> str:
    """The customer's browser and the interaction: returns the callback URL.

    GET the authorization URL (303 to the interaction page, which sets the
    browser-binding cookie), complete the interaction through the service
    layer (its pages come later), then GET /authorize/resume with the same
    cookie jar (303 to the redirect URI with code, state and iss).
    """
    from idp.authorize import BROWSER_COOKIE, complete_interaction

    assert authorization_url.startswith(f"{live.issuer}/authorize?"), authorization_url
    with browser_session() as browser:
        started = browser.get(authorization_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        assert started.status_code == 303, (started.status_code, started.text)
        page = started.headers["Location"]
        assert page.startswith(f"{live.issuer}/interaction/"), page
        interaction_id = urlsplit(page).path.rsplit("/", 1)[-1]
        with live.app.app_context():
            complete_interaction(
                interaction_id,
                browser.cookies.get(BROWSER_COOKIE),
                subject=subject,
                approved=True,
                acr=ACR,
                amr=list(AMR),
            )
        resumed = browser.get(
            f"{live.issuer}/authorize/resume/{interaction_id}", allow_redirects=False, timeout=HTTP_TIMEOUT
        )
        assert resumed.status_code == 303, (resumed.status_code, resumed.text)
        return resumed.headers["Location"]
