"""Qarjy (``demo_app``) served next to a live Senim, for its tests and the browser journey.

``start_qarjy`` seeds the platform's demo data (demo banks, "Senim Demo
Fintech", demo people), serves the three demo banks as reference banks
(``reference_bank.create_bank_app``) each on a free port and publishes their
APIs there instead of the seeded addresses, registers a client of the demo
fintech whose redirect and notification URIs point at a free port of
127.0.0.1, subscribed to the banks' APIs, writes its private key to a file as
``senim demo seed`` does, and serves the demo app there with Werkzeug in a
thread. ``sign_in_and_approve`` is the customer's browser (a
requests session) going through Senim's pages: identify, face (a synthetic
live capture), SMS code, consent.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import requests
from flask import Flask
from joserfc.jwk import ECKey
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from demo_app import DemoAppConfig, create_app
from demo_app.banks import Bank
from demo_app.store import Store
from tests.support.customer import OBAMA_IIN, OBAMA_PHONE, code_sent_to, csrf_token, genuine_capture

HTTP_TIMEOUT = 10
QARJY_CLIENT_ID = "qarjy-test"


@dataclass
class Served:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=HTTP_TIMEOUT)
        self.server.server_close()


class _QuietHandler(WSGIRequestHandler):
    """No request log: Qarjy's callback URL carries the authorization code."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def serve(app: Flask, sock: socket.socket | None = None) -> Served:
    """``app`` served by Werkzeug (threaded) on 127.0.0.1: on ``sock`` if given, else a free port."""
    if sock is None:
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    else:
        server = make_server(
            "127.0.0.1",
            sock.getsockname()[1],
            app,
            threaded=True,
            fd=sock.fileno(),
            request_handler=_QuietHandler,
        )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Served(f"http://127.0.0.1:{server.socket.getsockname()[1]}", server, thread)


@dataclass
class Qarjy:
    base_url: str
    app: Flask
    config: DemoAppConfig
    banks: list[Bank]
    served: list[Served]

    @property
    def store(self) -> Store:
        return self.app.extensions["demo_app.service"].store

    def stop(self) -> None:
        for served in self.served:
            served.stop()


def _serve_demo_banks(platform_app: Flask, issuer: str, client_id: str, participant_id: str) -> list[Served]:
    """The demo banks as reference banks on free ports, their APIs published there, ``client_id``
    subscribed (the seeded addresses, :8101–:8103, are unpublished)."""
    from reference_bank import BankConfig, create_bank_app
    from registry.apis import add_api, published_api, set_published, subscribe
    from senim.database import db
    from senim.demo import DEMO_BANKS, demo_bank_ids

    served = []
    with platform_app.app_context():
        for index, (bank_id, (name, _bin)) in enumerate(zip(demo_bank_ids(), DEMO_BANKS, strict=True)):
            bank = serve(
                create_bank_app(
                    BankConfig(
                        bank_id=bank_id,
                        name=name,
                        bank_code=f"{101 + index}",
                        platform_issuer=issuer,
                        seed=index,
                        generated_customers=0,
                        history_days=60,
                    )
                )
            )
            served.append(bank)
            seeded = published_api(bank_id)
            if seeded is not None:
                set_published(seeded.id, False)
            api = add_api(provider_id=bank_id, base_url=bank.url, publish=True)
            subscribe(api_id=api.id, client_id=client_id, participant_id=participant_id)
        db.session.remove()
    return served


def start_qarjy(platform_app: Flask, issuer: str, data_dir: Path) -> Qarjy:
    """Seed the platform's demo data, register Qarjy's client, serve Qarjy on a free port."""
    from idp.clients import register_client
    from registry.models import Participant
    from senim.database import db
    from senim.demo import DEMO_BANKS, DEMO_FINTECH, demo_bank_ids, seed_demo

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    served: list[Served] = []
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        key = ECKey.generate_key("P-256")
        settings = platform_app.extensions["senim.settings"]
        with platform_app.app_context():
            list(seed_demo(settings))
            fintech = db.session.scalar(select(Participant).where(Participant.bin == DEMO_FINTECH[1]))
            public = key.as_dict(private=False) | {"kid": "qarjy-1", "alg": "ES256", "use": "sig"}
            register_client(
                name="Qarjy",
                jwks={"keys": [public]},
                redirect_uris=[f"{base_url}/callback"],
                scope="openid accounts consents",
                grant_types=["authorization_code", "refresh_token", "client_credentials"],
                client_id=QARJY_CLIENT_ID,
                participant_id=fintech.id,
                notification_uri=f"{base_url}/events",
            )
            bank_ids = demo_bank_ids()
            fintech_id = fintech.id
            db.session.remove()
        served = _serve_demo_banks(platform_app, issuer, QARJY_CLIENT_ID, fintech_id)
        banks = [Bank(bank_id, name) for bank_id, (name, _bin) in zip(bank_ids, DEMO_BANKS, strict=True)]
        key_file = data_dir / "qarjy-private.jwk.json"
        key_file.write_text(json.dumps(key.as_dict(private=True) | {"kid": "qarjy-1", "alg": "ES256"}))
        config = DemoAppConfig(
            platform=issuer,
            base_url=base_url,
            key_file=key_file,
            data_dir=data_dir,
            banks=tuple(banks),
            client_id=QARJY_CLIENT_ID,
        )
        app = create_app(config)
        served.append(serve(app, sock))
    except BaseException:
        for running in served:
            running.stop()
        raise
    finally:
        sock.close()
    return Qarjy(base_url, app, config, banks, served)


def browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["Accept-Language"] = "en"
    return session


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, "the page has no form token"
    return match.group(1)


def connect(session: requests.Session, qarjy: Qarjy, bank_ids: list[str]) -> requests.Response:
    """Home, tick ``bank_ids``, "Connect my accounts": the answer (303 to Senim), not followed."""
    home = session.get(qarjy.base_url + "/", timeout=HTTP_TIMEOUT)
    assert home.status_code == 200
    return session.post(
        qarjy.base_url + "/connect",
        data={"form_token": form_token(home.text), "bank": bank_ids},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )


def sign_in_and_approve(
    session: requests.Session,
    platform_app: Flask,
    issuer: str,
    authorize_url: str,
    keep: list[str] | None = None,
    decision: str = "approve",
) -> requests.Response:
    """The customer at Senim: identify, face, code, then approve (keeping ``keep`` banks, default
    all asked) or reject; returns the last answer after the redirects (Qarjy's page)."""
    identify = session.get(authorize_url, timeout=HTTP_TIMEOUT)
    assert identify.url.endswith("/identify"), identify.url
    face = session.post(
        identify.url,
        data={"csrf_token": csrf_token(identify.text), "identifier": OBAMA_IIN},
        timeout=HTTP_TIMEOUT,
    )
    challenge_id = re.search(r'data-challenge-id="([^"]+)"', face.text).group(1)
    poses = tuple(re.findall(r'<li data-pose="(\w+)"', face.text))
    answer = session.post(
        face.url,
        data={"challenge_id": challenge_id},
        files=[("frames", (f"f{i}.jpg", BytesIO(f))) for i, f in enumerate(genuine_capture(poses))],
        headers={"Accept": "application/json", "X-CSRFToken": csrf_token(face.text)},
        timeout=HTTP_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    from senim.database import db

    with platform_app.app_context():
        code = code_sent_to(OBAMA_PHONE)
        db.session.remove()
    consent = session.post(
        issuer + answer.json()["next"],
        data={"csrf_token": csrf_token(face.text), "code": code},
        timeout=HTTP_TIMEOUT,
    )
    assert consent.url.endswith("/consent"), consent.url
    ticked: dict[str, list[str]] = {}
    for name, value in re.findall(
        r'<input type="checkbox" name="([^"]+)" value="([^"]+)" checked>', consent.text
    ):
        if keep is None or value in keep:
            ticked.setdefault(name, []).append(value)
    return session.post(
        consent.url,
        data={"csrf_token": csrf_token(consent.text), "decision": decision, **ticked},
        timeout=HTTP_TIMEOUT,
    )
