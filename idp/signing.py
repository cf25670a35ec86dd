"""Signing with the platform's current key: tokens, security events, consent receipts."""

from __future__ import annotations

from flask import current_app
from joserfc import jwt

from senim.keys import KeyRing
from senim.settings import Settings


def keyring() -> KeyRing:
    return current_app.extensions["senim.keyring"]


def settings() -> Settings:
    return current_app.extensions["senim.settings"]


def sign(claims: dict, typ: str) -> str:
    """A compact JWS of ``claims`` with header ``typ``, verifiable with the keys at ``/jwks``."""
    key = keyring().signing_key
    header = {"alg": key.alg, "typ": typ, "kid": key.kid}
    # joserfc refuses PS256 unless it is allowed explicitly (DEPENDENCIES.md).
    return jwt.encode(header, claims, key.key, algorithms=[key.alg])
