"""A client's public keys: registered as a JWKS, or published by the client at its ``jwks_uri``.

A client that publishes its keys (RFC 7591 §2 ``jwks_uri``; OIDC Core §10.1.1)
rotates them itself without telling the platform: it publishes the new key
next to the old one, starts signing with it, later drops the old one. The
platform keeps what it fetched for ``CACHE_SECONDS`` and fetches again at
once when an assertion names a key id it does not know — but not more than
once per ``REFETCH_SECONDS`` for one address, so a stream of assertions with
made-up key ids cannot make the platform hammer the client's server.

A client with a registered JWKS rotates through the cabinet instead: add the
new key, switch, remove the old one (``idp.clients.add_client_key`` /
``remove_client_key``); both are valid in between, so nothing stops.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import requests
import urllib3
from flask import current_app
from joserfc.jwk import KeySet

from idp.errors import ClientAssertionInvalid
from senim import clock

CACHE_SECONDS = 300
REFETCH_SECONDS = 30
#: Each read waits at most FETCH_TIMEOUT; the whole fetch ends after FETCH_DEADLINE (plus one read).
FETCH_TIMEOUT = 2.0
FETCH_DEADLINE = 4.0
MAX_JWKS_BYTES = 64 * 1024


class JwksUnavailable(ClientAssertionInvalid):
    """The client's JWKS could not be fetched or read."""


class NotAPublicAddress(ValueError):
    """A client's address (JWKS URI, notification URI) resolves to a non-public address."""


@lru_cache(maxsize=1024)
def _keyset(jwks_json: str) -> KeySet:
    return KeySet.import_key_set(json.loads(jwks_json))


def keyset_of(jwks: dict | None) -> KeySet:
    """The keys of a registered JWKS, parsed once per distinct JWKS."""
    if not jwks or not jwks.get("keys"):
        raise ClientAssertionInvalid("The client has no registered keys.")
    return _keyset(json.dumps(jwks, sort_keys=True))


@dataclass
class _Fetched:
    jwks: dict | None  # None: the last attempt failed
    fetched_at: float  # when it was last tried, failed or not


_fetched: dict[str, _Fetched] = {}
_lock = threading.Lock()
_fetching: dict[str, threading.Lock] = {}
UNAVAILABLE = "The client's JWKS could not be fetched."


def check_public_destination(uri: str) -> None:
    """In production the platform calls clients only at public addresses (SSRF).

    The host is resolved and every address it has must be global: a name, a
    short or hexadecimal IP literal (``127.1``, ``0x7f000001``) or ``localhost.``
    pointing inside the network is refused. The address a name resolves to at
    connection time could still differ (DNS rebinding); the fetch follows no
    redirect and reads at most ``MAX_JWKS_BYTES`` within ``FETCH_DEADLINE``.
    """
    host = urlsplit(uri).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        raise NotAPublicAddress(f"{host} does not resolve") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        raise NotAPublicAddress(f"{host} is not a public address")


def fetch_jwks(uri: str, *, production: bool = False) -> dict:
    """The JWKS the client publishes at ``uri``: public keys only, a small JSON document.

    No redirects are followed (the registered address is the one trusted). The
    whole answer must arrive within ``FETCH_DEADLINE``: a server trickling its
    answer cannot hold a worker. A failure says the same whatever happened, so
    the platform is no probe of the client's network.
    """
    from idp.clients import ClientRegistrationError, validate_jwks

    if production:
        try:
            check_public_destination(uri)
        except NotAPublicAddress:
            raise JwksUnavailable(UNAVAILABLE) from None
    deadline = time.monotonic() + FETCH_DEADLINE
    body = b""
    try:
        with requests.get(
            uri,
            timeout=FETCH_TIMEOUT,
            stream=True,
            allow_redirects=False,
            headers={"Accept": "application/json"},
        ) as answer:
            if answer.status_code != 200:
                raise JwksUnavailable(UNAVAILABLE)
            # read1: whatever has arrived (at least a byte), so the deadline is checked as it trickles
            while chunk := answer.raw.read1(4096, decode_content=True):
                body += chunk
                if len(body) > MAX_JWKS_BYTES or time.monotonic() > deadline:
                    raise JwksUnavailable(UNAVAILABLE)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        raise JwksUnavailable(UNAVAILABLE) from None
    try:
        return validate_jwks(json.loads(body))
    except (ValueError, ClientRegistrationError, RecursionError):
        raise JwksUnavailable("The client's JWKS is not a valid set of public keys.") from None


def published_keyset(uri: str, *, kid: str | None = None, now: float | None = None) -> KeySet:
    """The keys at ``uri``, from the cache while fresh and while they know ``kid``.

    One fetch per address at a time, and at most one per ``REFETCH_SECONDS``
    whether it worked or not: a stream of assertions naming unknown key ids, or
    a client's server that is down, costs the platform one fetch per half minute.
    """
    now = clock.now() if now is None else now
    with _lock:
        one_at_a_time = _fetching.setdefault(uri, threading.Lock())
    with one_at_a_time:
        with _lock:
            cached = _fetched.get(uri)
        if cached is not None:
            fresh = now - cached.fetched_at < CACHE_SECONDS
            known = cached.jwks is not None and (
                kid is None or any(key.get("kid") == kid for key in cached.jwks["keys"])
            )
            may_refetch = now - cached.fetched_at >= REFETCH_SECONDS
            if (fresh and known) or not may_refetch:
                if cached.jwks is None:
                    raise JwksUnavailable(UNAVAILABLE)
                return keyset_of(cached.jwks)
        try:
            jwks = fetch_jwks(uri, production=current_app.extensions["senim.settings"].production)
        except JwksUnavailable:
            with _lock:
                # Keys fetched before stay in use; the failure only delays the next attempt.
                _fetched[uri] = _Fetched(cached.jwks if cached else None, now)
            raise
        with _lock:
            _fetched[uri] = _Fetched(jwks, now)
        return keyset_of(jwks)


def forget_published_keys(uri: str | None = None) -> None:
    """Drop what was fetched (for ``uri``, or everything): after a change of address, and in tests."""
    with _lock:
        if uri is None:
            _fetched.clear()
        else:
            _fetched.pop(uri, None)


def client_keyset(client: object, *, kid: str | None = None) -> KeySet:
    """The public keys a client signs with: its registered JWKS, or what its ``jwks_uri`` publishes."""
    jwks_uri = getattr(client, "jwks_uri", None)
    if jwks_uri:
        return published_keyset(jwks_uri, kid=kid)
    return keyset_of(getattr(client, "jwks", None))


def header_kid(compact_jws: str) -> str | None:
    """The ``kid`` in a compact JWS's protected header, if it names one (read without verifying)."""
    from joserfc.jws import extract_compact

    try:
        kid = extract_compact(compact_jws.encode()).headers().get("kid")
    except (ValueError, TypeError, RecursionError, Exception):  # noqa: BLE001 - any garbage: no kid
        return None
    return kid if isinstance(kid, str) else None
