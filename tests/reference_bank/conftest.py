"""A platform key, assertions signed with it, and reference banks that trust it — no platform DB needed.

The bank fetches the platform's JWKS through ``BankConfig.jwks_fetcher``;
here that hook hands it the test platform's public keys (one test serves
them over real HTTP instead). The bank's clock is a settable one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from reference_bank import BankConfig, create_bank_app
from resource_proxy.standard import ASSERTION_TYP, PERMISSIONS

ISSUER = "https://senim.test"
BANK_ID = "altyn-participant-id"
#: 2027-01-15 13:00 Almaty: the bank's clock in every test, so data and windows do not move.
NOW = 1_800_000_000.0
ONE, TWO = "900101300017", "850202300014"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def platform_key(kid: str = "platform-1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"}, private=True)


def public_jwks(*keys: ECKey) -> dict:
    return KeySet(list(keys)).as_dict(private=False)


@dataclass
class Platform:
    """The platform's side: its key, and assertions as the proxy would send them."""

    key: ECKey
    clock: Clock
    published: list[ECKey] = field(default_factory=list)
    fetches: int = 0

    def jwks(self, url: str) -> dict:
        self.fetches += 1
        return public_jwks(*(self.published or [self.key]))

    def assertion(self, *, key: ECKey | None = None, typ: str = ASSERTION_TYP, **claims: object) -> str:
        now = int(self.clock())
        base = {
            "iss": ISSUER,
            "aud": BANK_ID,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
            "sub": ONE,
            "consent_id": "consent-1",
            "permissions": list(PERMISSIONS),
            "api_user": "fintech-participant-id",
            "client_id": "senim-demo-app",
            "interaction_id": "iid-1",
        }
        base.update(claims)
        base = {k: v for k, v in base.items() if v is not None}
        signer = key or self.key
        header = {"alg": "ES256", "typ": typ, "kid": signer.kid}
        return jwt.encode(header, base, signer, algorithms=["ES256"])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(clock: Clock) -> Platform:
    return Platform(key=platform_key(), clock=clock)


@pytest.fixture
def make_bank(platform: Platform, clock: Clock) -> Callable[..., FlaskClient]:
    def make(**overrides: object) -> FlaskClient:
        settings = {
            "bank_id": BANK_ID,
            "name": "Altyn Demo Bank",
            "bank_code": "101",
            "platform_issuer": ISSUER,
            "now": clock,
            "jwks_fetcher": platform.jwks,
        }
        settings.update(overrides)
        return create_bank_app(BankConfig(**settings)).test_client()

    return make


@pytest.fixture
def bank(make_bank: Callable[..., FlaskClient]) -> FlaskClient:
    return make_bank()


@dataclass
class Caller:
    """Calls a bank as the proxy does: a fresh assertion per call, the interaction id in the header."""

    client: FlaskClient
    platform: Platform

    def get(
        self, path: str, *, header_id: str | None = "iid-1", headers: dict | None = None, **claims: object
    ):
        """``header_id`` is the x-fapi-interaction-id sent (none when None); ``claims`` override the assertion's."""
        sent = {"Accept": "application/json"}
        if header_id is not None:
            sent["x-fapi-interaction-id"] = header_id
            claims.setdefault("interaction_id", header_id)
        sent["Authorization"] = f"Bearer {self.platform.assertion(**claims)}"
        sent.update(headers or {})
        return self.client.get(path, headers=sent)


@pytest.fixture
def call(bank: FlaskClient, platform: Platform) -> Caller:
    return Caller(bank, platform)
