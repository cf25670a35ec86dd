"""Verifying the platform's assertion: the only proof a bank has that a call is covered by a consent.

The proxy has already checked the API user's token, DPoP proof and the live
consent; it tells the bank the outcome in a short-lived JWT signed with the
platform's key (typ ``senim-ais-assertion+jwt``). The bank trusts nothing
else, so each check below is one rule of the contract, in order; any failure
is a 401. The platform's JWKS is fetched once and cached, and fetched again
when a token names a key the cache does not hold (key rotation), at most once
per ``REFETCH_INTERVAL`` so that made-up kids cannot make the bank hammer the
platform. A ``jti`` is accepted once (RFC 7519 §4.1.7) until it expires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from resource_proxy.standard import ASSERTION_TYP

#: Clock skew allowed between platform and bank (seconds).
SKEW = 30
#: The longest lifetime the bank accepts (the contract: exp = iat + 60).
MAX_LIFETIME = 120
#: At most one JWKS refetch for an unknown kid per this many seconds.
REFETCH_INTERVAL = 10
ALGORITHMS = ["ES256", "PS256", "RS256", "EdDSA"]
_REQUIRED = ("iss", "aud", "iat", "exp", "jti", "sub", "consent_id", "permissions", "interaction_id")


class AssertionRefused(Exception):
    """The assertion does not let this call through; the message says which rule (never the token)."""


@dataclass(frozen=True)
class Grant:
    """What a verified assertion allows: whose data, under which consent, with which permissions."""

    customer_iin: str
    consent_id: str
    permissions: frozenset[str]
    api_user: str | None
    client_id: str | None
    transaction_from: str | None
    transaction_to: str | None


def fetch_jwks_over_http(url: str) -> dict:
    """The platform's JWKS, fetched with a short timeout."""
    answer = requests.get(url, timeout=5, headers={"Accept": "application/json"})
    answer.raise_for_status()
    return answer.json()


#: What joserfc raises on crafted input besides its own errors (a header with ``"crit": [1]``
#: is a TypeError before any signature check): each is a refused assertion, never a 500.
MALFORMED = (JoseError, ValueError, TypeError, KeyError, AttributeError, RecursionError)


class PlatformKeys:
    """The platform's public keys, cached; refetched once on an unknown kid."""

    def __init__(self, url: str, fetch: Callable[[str], dict], now: Callable[[], float]) -> None:
        self._url, self._fetch, self._now = url, fetch, now
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _load(self) -> KeySet:
        self._fetched_at = self._now()
        self._keys = KeySet.import_key_set(self._fetch(self._url))
        return self._keys

    def prefetch(self) -> bool:
        """Fetch the keys now (at start), so that the first calls do not wait on the platform.

        A bank whose first call must fetch the keys asks the platform while the
        platform waits for that call's answer: under load every platform thread
        may be waiting so, and the fetch then waits until the call times out.
        False (nothing raised) when the platform cannot be reached yet: the
        keys are then fetched on the first call.
        """
        with self._lock:
            try:
                self._load()
            except (requests.RequestException, ValueError, JoseError):
                self._fetched_at = float("-inf")
                self._keys = None
                return False
            return True

    def for_kid(self, kid: str | None) -> KeySet:
        with self._lock:
            if self._keys is None and self._now() - self._fetched_at < REFETCH_INTERVAL:
                # the last fetch failed moments ago: do not hammer a platform that is down
                raise AssertionRefused("the platform's keys could not be fetched")
            try:
                keys = self._keys or self._load()
                unknown = kid is not None and kid not in {k.kid for k in keys.keys}
                if unknown and self._now() - self._fetched_at >= REFETCH_INTERVAL:
                    keys = self._load()
            except (requests.RequestException, ValueError, JoseError) as error:
                raise AssertionRefused("the platform's keys could not be fetched") from error
            return keys


class SeenJtis:
    """Assertion ids already used, kept until they expire (so replay is refused, memory bounded)."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def use(self, jti: str, expires_at: float, now: float) -> bool:
        """Records ``jti``; False when it was already used."""
        with self._lock:
            if len(self._expiry) > 1000:
                self._expiry = {j: e for j, e in self._expiry.items() if e + SKEW >= now}
            if jti in self._expiry:
                return False
            self._expiry[jti] = expires_at
            return True


class AssertionVerifier:
    """The bank's side of the contract: the assertion's checks, in order."""

    def __init__(self, bank_id: str, issuer: str, keys: PlatformKeys, now: Callable[[], float]) -> None:
        self.bank_id, self.issuer, self.keys, self.now = bank_id, issuer, keys, now
        self.seen = SeenJtis()

    def verify(self, authorization: str | None, interaction_id: str) -> Grant:
        token = check_bearer_token_present(authorization)
        header = check_typ(token)
        claims = check_signature(token, self.keys.for_kid(header.get("kid")))
        check_claims_present(claims)
        check_issuer(claims, self.issuer)
        check_audience(claims, self.bank_id)
        now = self.now()
        check_time_window(claims, now)
        check_interaction_id(claims, interaction_id)
        check_jti_not_used(claims, self.seen, now)
        return Grant(
            customer_iin=str(claims["sub"]),
            consent_id=str(claims["consent_id"]),
            permissions=frozenset(claims["permissions"]),
            api_user=claims.get("api_user"),
            client_id=claims.get("client_id"),
            transaction_from=claims.get("transaction_from"),
            transaction_to=claims.get("transaction_to"),
        )


def check_bearer_token_present(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AssertionRefused("a platform assertion is required (Authorization: Bearer)")
    return token.strip()


def check_typ(token: str) -> dict:
    try:
        header = jws.extract_compact(token.encode()).protected
    except MALFORMED as error:
        raise AssertionRefused("the assertion is not a JWS") from error
    if header.get("typ") != ASSERTION_TYP:
        raise AssertionRefused(f"the assertion's typ must be {ASSERTION_TYP}")
    return header


def check_signature(token: str, keys: KeySet) -> dict:
    try:
        return dict(jwt.decode(token, keys, algorithms=ALGORITHMS).claims)
    except MALFORMED as error:
        raise AssertionRefused(
            "the assertion's signature does not verify with the platform's keys"
        ) from error


def check_claims_present(claims: dict) -> None:
    missing = [c for c in _REQUIRED if c not in claims]
    if missing:
        raise AssertionRefused(f"the assertion lacks {', '.join(missing)}")
    if not isinstance(claims["permissions"], list) or not all(
        isinstance(p, str) for p in claims["permissions"]
    ):
        raise AssertionRefused("the assertion's permissions must be a list of strings")


def check_issuer(claims: dict, issuer: str) -> None:
    if claims["iss"] != issuer:
        raise AssertionRefused("the assertion is not from the platform this bank trusts")


def check_audience(claims: dict, bank_id: str) -> None:
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if bank_id not in audience:
        raise AssertionRefused("the assertion is for another bank")


def check_time_window(claims: dict, now: float) -> None:
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise AssertionRefused("the assertion's iat and exp must be numbers")
    if exp + SKEW < now:
        raise AssertionRefused("the assertion has expired")
    if iat - SKEW > now:
        raise AssertionRefused("the assertion is issued in the future")
    if exp - iat > MAX_LIFETIME:
        raise AssertionRefused("the assertion lives too long")


def check_interaction_id(claims: dict, interaction_id: str) -> None:
    if claims["interaction_id"] != interaction_id:
        raise AssertionRefused("the assertion is for another interaction (x-fapi-interaction-id)")


def check_jti_not_used(claims: dict, seen: SeenJtis, now: float) -> None:
    if not seen.use(str(claims["jti"]), float(claims["exp"]), now):
        raise AssertionRefused("the assertion has already been used")
