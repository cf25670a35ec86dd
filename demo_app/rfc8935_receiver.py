"""Receiving the platform's Security Event Tokens (RFC 8417) pushed over HTTP (RFC 8935).

The receiver's side of ``docs/consent-events.md``, checks in order:

| # | check                  | RFC                 | refusal (400, ``err``) |
|---|------------------------|---------------------|------------------------|
| 1 | check_media_type       | RFC 8935 §2         | invalid_request        |
| 2 | check_explicit_typing  | RFC 8417 §2.3       | invalid_request        |
| 3 | check_signature        | RFC 8935 §2, §5.2   | invalid_key            |
| 4 | check_issuer           | RFC 8935 §2.4       | invalid_issuer         |
| 5 | check_audience         | RFC 8935 §2.4       | invalid_audience       |
| 6 | check_one_consent_event| RFC 8417 §2.2       | invalid_request        |

The platform's keys come from ``{issuer}/jwks``, cached, fetched again once
when a SET names a ``kid`` not in the cache (a new key is published before it
signs). Only ES256 and PS256 are accepted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

SET_MEDIA_TYPE = "application/secevent+jwt"
SET_TYP = "secevent+jwt"
ALGORITHMS = ["ES256", "PS256"]
EVENT_PREFIX = "https://senim.kz/secevents/consent/"
#: The events after which the API user deletes what it obtained under the consent.
CONSENT_ENDED = {f"{EVENT_PREFIX}{name}" for name in ("revoked", "expired", "rejected")}


class SetRefused(Exception):
    """A SET the receiver does not accept; ``err`` is an RFC 8935 §2.4 error code."""

    def __init__(self, err: str, description: str) -> None:
        super().__init__(description)
        self.err, self.description = err, description

    def as_json(self) -> dict:
        return {"err": self.err, "description": self.description}


@dataclass(frozen=True)
class ConsentEvent:
    jti: str
    event_type: str
    consent_id: str
    status: str | None
    reason: str | None


class PlatformKeys:
    """The platform's JWKS, cached; fetched again on an unknown ``kid``."""

    def __init__(self, jwks_url: str) -> None:
        self.jwks_url = jwks_url
        self._keys: KeySet | None = None
        self._lock = threading.Lock()

    def _fetch(self) -> KeySet:
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get(self.jwks_url, timeout=(3.0, 5.0))
        answer.raise_for_status()
        return KeySet.import_key_set(answer.json())

    def for_kid(self, kid: str | None) -> KeySet:
        with self._lock:
            if self._keys is None or (kid and not any(k.kid == kid for k in self._keys.keys)):
                self._keys = self._fetch()
            return self._keys


class SetReceiver:
    """Verifies SETs addressed to ``client_id`` by ``issuer``."""

    def __init__(self, issuer: str, client_id: str, keys: PlatformKeys | None = None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.keys = keys or PlatformKeys(f"{issuer}/jwks")

    def receive(self, content_type: str | None, body: bytes) -> ConsentEvent:
        """The consent event in ``body``, or ``SetRefused``."""
        check_media_type(content_type)
        compact = body.decode("ascii", "replace").strip()
        header = check_explicit_typing(compact)
        token = self.check_signature(compact, header.get("kid"))
        check_issuer(token.claims, self.issuer)
        check_audience(token.claims, self.client_id)
        return check_one_consent_event(token.claims)

    def check_signature(self, compact: str, kid: str | None) -> jwt.Token:
        try:
            keys = self.keys.for_kid(kid)
        except (requests.RequestException, ValueError, JoseError):
            # Not the sender's fault; a 400 would still make the platform retry later.
            raise SetRefused("invalid_key", "The platform's keys could not be fetched.") from None
        try:
            return jwt.decode(compact, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError):
            raise SetRefused("invalid_key", "The SET's signature does not verify.") from None


def check_media_type(content_type: str | None) -> None:
    # RFC 8935 §2: the SET is POSTed as application/secevent+jwt.
    if (content_type or "").split(";")[0].strip().lower() != SET_MEDIA_TYPE:
        raise SetRefused("invalid_request", f"Send the SET as {SET_MEDIA_TYPE}.")


def check_explicit_typing(compact: str) -> dict:
    # RFC 8417 §2.3: explicitly typed, so an access or ID token is never taken for a SET.
    try:
        header = jws.extract_compact(compact.encode()).protected
    except (JoseError, ValueError):
        raise SetRefused("invalid_request", "The body is not a compact JWS.") from None
    if header.get("typ") != SET_TYP:
        raise SetRefused("invalid_request", f"The JWT's typ is not {SET_TYP}.")
    return header


def check_issuer(claims: dict, issuer: str) -> None:
    if claims.get("iss") != issuer:
        raise SetRefused("invalid_issuer", "The SET was not issued by the platform.")


def check_audience(claims: dict, client_id: str) -> None:
    aud = claims.get("aud")
    if aud != client_id and not (isinstance(aud, list) and client_id in aud):
        raise SetRefused("invalid_audience", "The SET is not addressed to this client.")


def check_one_consent_event(claims: dict) -> ConsentEvent:
    # RFC 8417 §2.2: ``events`` holds the event keyed by its type; Senim sends one per SET.
    events = claims.get("events")
    jti = claims.get("jti")
    if not isinstance(events, dict) or len(events) != 1 or not isinstance(jti, str) or not jti:
        raise SetRefused("invalid_request", "The SET must carry a jti and exactly one event.")
    [(event_type, event)] = events.items()
    subject = claims.get("sub_id") if isinstance(claims.get("sub_id"), dict) else {}
    consent_id = (event or {}).get("consent_id") if isinstance(event, dict) else None
    consent_id = consent_id or subject.get("id")
    if not isinstance(consent_id, str) or not consent_id:
        raise SetRefused("invalid_request", "The event names no consent.")
    event = event if isinstance(event, dict) else {}
    return ConsentEvent(jti, event_type, consent_id, event.get("status"), event.get("reason"))
