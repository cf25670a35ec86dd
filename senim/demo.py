"""Demo data for `make run`: a demo API-user client whose private key is kept
under the data directory, so scripts and the docs' examples can use it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.clients import register_client
from idp.models import Client
from senim.database import db
from senim.settings import Settings

DEMO_CLIENT_ID = "senim-demo-app"
DEMO_REDIRECT_URI = "http://127.0.0.1:8001/callback"


def seed_demo(settings: Settings) -> Iterator[str]:
    key_path = settings.data_dir / "demo" / "demo-app-private.jwk.json"
    if db.session.scalar(select(Client).where(Client.client_id == DEMO_CLIENT_ID)) is not None:
        yield f"demo data present (client {DEMO_CLIENT_ID}, key {key_path})"
        return
    key = ECKey.generate_key("P-256")
    private = key.as_dict(private=True)
    private.update({"kid": "demo-app-1", "alg": "ES256", "use": "sig"})
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(private, fh)
    public = key.as_dict(private=False)
    public.update({"kid": "demo-app-1", "alg": "ES256", "use": "sig"})
    register_client(
        name="Senim demo app",
        jwks={"keys": [public]},
        redirect_uris=[DEMO_REDIRECT_URI],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        production=settings.production,
        client_id=DEMO_CLIENT_ID,
    )
    yield f"demo client {DEMO_CLIENT_ID} created; its private key is in {key_path}"
