"""Security Event Tokens (RFC 8417), signed with the platform's current key.

A SET is a JWT whose ``events`` claim holds one logical event keyed by its
type URI (§2.2). Senim's SETs carry:

- header ``typ: secevent+jwt`` (§2.3: explicit typing, so a SET is never
  mistaken for an access or ID token), ``alg`` and ``kid`` of the signing key
  (published at ``/jwks``);
- ``iss`` (the issuer), ``aud`` (the receiving client), ``iat`` (when this
  SET was signed), ``jti`` (the event's id, the same on every retry),
  ``toe`` (§2.2: when the event happened);
- ``sub_id`` (RFC 9493 §3: a subject identifier, here of format ``opaque``);
- ``events`` with exactly one member.

No ``exp``: a SET states a fact, it does not grant anything (§2.2 defines
none for it, and a late SET is still true).
"""

from __future__ import annotations

from idp.signing import settings, sign

#: RFC 8417 §2.3 / §7.2: the media type's short form, used as the JWT ``typ``.
SET_TYP = "secevent+jwt"
#: RFC 8935 §2: the Content-Type of a SET POSTed to its recipient.
SET_MEDIA_TYPE = "application/secevent+jwt"


def opaque_subject(identifier: str) -> dict:
    """RFC 9493 §3.2.4: an identifier only the issuer and the recipient understand."""
    return {"format": "opaque", "id": identifier}


def security_event_claims(
    *,
    jti: str,
    audience: str,
    issued_at: int,
    event_type: str,
    event: dict,
    subject: dict,
    time_of_event: int,
) -> dict:
    """The claims of a SET carrying one event (RFC 8417 §2.2)."""
    return {
        "iss": settings().issuer,
        "aud": audience,
        "iat": issued_at,
        "jti": jti,
        "toe": time_of_event,
        "sub_id": subject,
        "events": {event_type: event},
    }


def sign_security_event(claims: dict) -> str:
    """The SET as a compact JWS, signed with the key that signs now."""
    return sign(claims, SET_TYP)
