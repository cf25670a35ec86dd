"""The proxy in front of real reference banks, each served in a thread on a
port of its own; an API user with a client subscribed to their APIs; tokens
under consents, approved at the consent step through the service layer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from sqlalchemy import update
from werkzeug.serving import make_server

from reference_bank import BankConfig, create_bank_app
from registry.apis import add_api, subscribe
from registry.models import PublishedApi
from registry.participants import API_USER, add_participant
from resource_proxy.models import RoutedCall
from resource_proxy.standard.validation import validate_answer
from senim.database import db
from tests.conftest import register
from tests.support import flow
from tests.support.api_user import ApiUser
from tests.support.consent_journey import approve_at_consent_step, create_consent, details_naming
from tests.support.consents import add_banks

PROXY = "/open-banking/v1"


@dataclass
class ServedBank:
    id: str
    base_url: str
    hold: threading.Event = field(default_factory=threading.Event)


def serve_bank(app: Flask, bank_id: str, bank_code: str, **config: object) -> Iterator[str]:
    """A reference bank on 127.0.0.1 (a free port), verifying assertions with the app's JWKS."""
    keyring = app.extensions["senim.keyring"]
    bank_app = create_bank_app(
        BankConfig(
            bank_id=bank_id,
            name=f"Bank {bank_code}",
            bank_code=bank_code,
            platform_issuer=app.extensions["senim.settings"].issuer,
            jwks_fetcher=lambda _url: keyring.jwks(),
            generated_customers=0,
            history_days=60,
            **config,
        )
    )
    server = make_server("127.0.0.1", 0, bank_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Platform:
    """The API user, its participant, the banks and their APIs as the tests use them."""

    app: Flask
    api_user: ApiUser
    api_user_id: str
    banks: list[str]
    apis: dict[str, str]
    clock: object

    @property
    def bank(self) -> str:
        return self.banks[0]

    def token(self, banks: list[str] | None = None, **consent_data: object) -> tuple[str, str]:
        """A customer's access token under a consent authorised at the consent step: (consent id, token)."""
        consent_id = create_consent(self.api_user, self.clock.now(), banks or [self.bank], **consent_data)
        interaction_id = flow.start(self.api_user, authorization_details=details_naming(consent_id))
        approve_at_consent_step(self.api_user, interaction_id)
        params = flow.resume(self.api_user, interaction_id)
        answer = self.api_user.exchange(params["code"])
        assert answer.status_code == 200, answer.get_json()
        return consent_id, answer.get_json()["access_token"]

    def call(self, path: str, token: str, provider: str | None = "default", **kwargs: object):
        headers = dict(kwargs.pop("headers", {}) or {})
        if provider == "default":
            provider = self.bank
        if provider is not None:
            headers.setdefault("x-provider-id", provider)
        return self.api_user.call("GET", PROXY + path, token, headers=headers, **kwargs)

    def accounts(self, token: str, **kwargs: object) -> list[dict]:
        answer = self.call("/accounts", token, **kwargs)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["Data"]["Account"]


def metered() -> list[RoutedCall]:
    db.session.expire_all()
    return list(db.session.query(RoutedCall).order_by(RoutedCall.id))


def assert_refused(answer, status: int, error_code: str, outcome: str) -> None:
    """A refusal of the proxy in the standard's error shape, with its interaction id, metered."""
    body = answer.get_json()
    assert answer.status_code == status, body
    assert validate_answer("GET /accounts", status, body) == []
    assert set(body) == {"Code", "Id", "Message", "Errors"}
    assert body["Id"] == answer.headers["x-fapi-interaction-id"]
    assert [e["ErrorCode"] for e in body["Errors"]] == [error_code]
    row = metered()[-1]
    assert (row.status, row.outcome) == (status, outcome)


@pytest.fixture
def bank_config() -> dict:
    """Overrides of the first bank's BankConfig (a test sets fault or hold)."""
    return {}


@pytest.fixture
def hold() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # a held bank thread always finishes


@pytest.fixture
def platform(app: Flask, http, clock, bank_config: dict) -> Iterator[Platform]:
    api_user_id = add_participant(name="Budget App LLP", bin="150740000044", roles=[API_USER]).id
    key = register(app, participant_id=api_user_id)
    api_user = ApiUser(http=http, client_id="app-1", key=key, now=clock.now)
    banks = add_banks(2)
    servers = [serve_bank(app, banks[0], "101", **bank_config), serve_bank(app, banks[1], "102")]
    apis = {}
    try:
        for bank_id, server in zip(banks, servers, strict=True):
            api = add_api(provider_id=bank_id, base_url=next(server), publish=True)
            subscribe(api_id=api.id, client_id="app-1", participant_id=api_user_id)
            apis[bank_id] = api.id
        yield Platform(app, api_user, api_user_id, banks, apis, clock)
    finally:
        for server in servers:
            server.close()


class ScriptedBank:
    """A bank on a raw loopback socket that sends whatever a test scripts: what no HTTP
    server would (a trickle, a redirect, garbage) included. Every call gets ``at_once``,
    then ``trickled`` a byte every ``pause`` seconds, then the connection is closed."""

    base_path = "/ob/v1"

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}{self.base_path}"
        self.at_once = b""
        self.trickled = b""
        self.pause = 0.3
        self.requests: list[bytes] = []
        #: set when the proxy closed a connection the bank was still sending on
        self.hung_up = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def answer(self, status: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Every call answered at once with ``status`` (e.g. "404 Not Found") and ``body``."""
        self.at_once = self.head(status, len(body), headers) + body
        self.trickled = b""

    @staticmethod
    def head(status: str, length: int, headers: dict[str, str] | None = None) -> bytes:
        fields = {"Content-Type": "application/json", "Content-Length": str(length), "Connection": "close"}
        fields.update(headers or {})
        lines = [f"HTTP/1.1 {status}"] + [f"{name}: {value}" for name, value in fields.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _address = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        request = b""
        try:
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                request += chunk
            self.requests.append(request)
            connection.sendall(self.at_once)
            for byte in self.trickled:
                if self._stopped.wait(self.pause):
                    return
                connection.sendall(bytes([byte]))
        except OSError:
            self.hung_up.set()


@pytest.fixture
def scripted_bank(platform: Platform) -> Iterator[ScriptedBank]:
    """The platform's first bank, its published API now served by a ``ScriptedBank``."""
    bank = ScriptedBank()
    db.session.execute(
        update(PublishedApi)
        .where(PublishedApi.id == platform.apis[platform.bank])
        .values(base_url=bank.base_url)
    )
    db.session.commit()
    try:
        yield bank
    finally:
        bank.stop()
