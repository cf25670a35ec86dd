"""Sandboxes for the conformance suite: reference banks served in-process (on a port of
their own, in a thread), as they are or wrapped to misbehave in one way."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from werkzeug.serving import make_server

from reference_bank import BankConfig, create_bank_app
from tests.support.consents import add_banks

#: WSGI: (environ, start_response) -> body
Wsgi = Callable


def reference_bank(app: Flask, bank_id: str, clock, bank_code: str = "101", **config: object) -> Flask:
    """A reference bank trusting the app's keys, on the tests' settable clock (so moving the
    clock moves the bank's too: assertions stay fresh for it)."""
    keyring = app.extensions["senim.keyring"]
    return create_bank_app(
        BankConfig(
            bank_id=bank_id,
            name=f"Bank {bank_code}",
            bank_code=bank_code,
            platform_issuer=app.extensions["senim.settings"].issuer,
            jwks_fetcher=lambda _url: keyring.jwks(),
            generated_customers=0,
            history_days=60,
            now=clock.now,
            **config,
        )
    )


@contextmanager
def serve(wsgi: Wsgi) -> Iterator[str]:
    """``wsgi`` on 127.0.0.1 (a free port); its base URL."""
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


class Switchable:
    """A WSGI app that serves ``healthy`` until ``broken`` is set, then ``broken``: a bank that
    breaks later (and is mended by setting ``broken`` back to None)."""

    def __init__(self, healthy: Wsgi) -> None:
        self.healthy = healthy
        self.broken: Wsgi | None = None

    def __call__(self, environ: dict, start_response: Callable) -> object:
        return (self.broken or self.healthy)(environ, start_response)


def answering(status: str, body: dict, headers: dict[str, str] | None = None) -> Wsgi:
    """A WSGI app answering every call with ``status`` and ``body``."""
    data = json.dumps(body).encode()

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                *(headers or {}).items(),
            ],
        )
        return [data]

    return app


def rewriting(inner: Wsgi, change: Callable[[dict, str, list, bytes], tuple[str, list, bytes]]) -> Wsgi:
    """``inner`` whose answers pass through ``change(environ, status, headers, body)``."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        captured: dict = {}

        def capture(status: str, headers: list, exc_info: object = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(inner(environ, capture))
        status, headers, body = change(environ, captured["status"], captured["headers"], body)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


@pytest.fixture
def provider(app: Flask) -> str:
    """An active API provider (a bank)."""
    return add_banks(1)[0]


@pytest.fixture
def sla(app: Flask) -> Iterator[float]:
    """A short SENIM_PROXY_TIMEOUT for the tests of slow sandboxes."""
    settings = app.extensions["senim.settings"]
    app.extensions["senim.settings"] = settings.with_overrides(proxy_timeout=0.25)
    try:
        yield 0.25
    finally:
        app.extensions["senim.settings"] = settings
