"""Issuing and checking tokens.

Access tokens are JWTs (RFC 9068) signed with the platform key, always bound
to a DPoP key (``cnf.jkt``, RFC 9449 §6.1), lifetime ≤ 5 minutes. Refresh
tokens are opaque, rotate on every use and belong to an ``Authorization``
(the token family). ID tokens follow OIDC Core §2.

A grant tied to a consent (``idp.consents.binding``) gives tokens that name
it (``consent_id``), never outlive it, and stop working the moment it is no
longer in force.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import Row, insert, select, update

from idp.consents.binding import capped_by_consent, consent_in_force, record_use
from idp.consents.models import Consent
from idp.errors import ConsentNotInForce, InvalidToken
from idp.models import Authorization, Client, IssuedToken, secret_hash
from idp.signing import keyring, settings, sign
from senim import clock
from senim.database import core, db

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"


@dataclass
class TokenGrant:
    """What a token response is issued for."""

    client: Client
    scope: str
    dpop_jkt: str
    authorization: Authorization | Row | None = None
    nonce: str | None = None
    include_refresh_token: bool = False
    include_id_token: bool = False
    rotated_from: int | None = None
    #: the grant's consent, checked in force by the grant: caps the lifetimes
    consent: Consent | None = None
    extra_claims: dict = field(default_factory=dict)


def authentication_claims(authz: Authorization | Row) -> dict:
    """How and when the customer authenticated (OIDC Core §2: auth_time, acr, amr)."""
    claims = {"auth_time": authz.auth_time, "acr": authz.acr, "amr": authz.amr}
    return {name: value for name, value in claims.items() if value}


def issue_tokens(grant: TokenGrant) -> dict:
    """Create the token response body and record what was issued (no token values)."""
    s = settings()
    now = clock.now_int()
    authz = grant.authorization
    subject = authz.subject if authz and authz.subject else None
    jti = uuid.uuid4().hex
    access_expires_at = capped_by_consent(now + s.access_token_ttl, grant.consent)
    claims = {
        "iss": s.issuer,
        "sub": subject or grant.client.client_id,
        "aud": s.issuer,
        "client_id": grant.client.client_id,
        "iat": now,
        "exp": access_expires_at,
        "jti": jti,
        "scope": grant.scope,
        "cnf": {"jkt": grant.dpop_jkt},
    }
    if authz is not None:
        claims["grant_id"] = authz.id
        if authz.authorization_details:
            claims["authorization_details"] = authz.authorization_details
        claims.update(authentication_claims(authz))
    if grant.consent is not None:
        claims["consent_id"] = grant.consent.id
    claims.update(grant.extra_claims)
    body: dict = {
        "access_token": sign(claims, "at+jwt"),
        "token_type": "DPoP",
        "expires_in": access_expires_at - now,
        "scope": grant.scope,
    }
    if authz is not None and authz.authorization_details:
        body["authorization_details"] = authz.authorization_details
    common = {
        "authorization_id": authz.id if authz else None,
        "client_id": grant.client.client_id,
        "subject": subject,
        "scope": grant.scope,
        "dpop_jkt": grant.dpop_jkt,
        "issued_at": now,
        "rotated_from": grant.rotated_from,
    }
    records = [{**common, "kind": ACCESS_TOKEN, "lookup": jti, "expires_at": claims["exp"]}]
    if grant.include_refresh_token and authz is not None:
        refresh = secrets.token_urlsafe(32)
        body["refresh_token"] = refresh
        records.append(
            {
                **common,
                "kind": REFRESH_TOKEN,
                "lookup": secret_hash(refresh),
                "expires_at": capped_by_consent(now + s.refresh_token_ttl, grant.consent),
            }
        )
    if grant.include_id_token and authz is not None and subject:
        id_claims = {
            "iss": s.issuer,
            "sub": subject,
            "aud": grant.client.client_id,
            "azp": grant.client.client_id,
            "iat": now,
            "exp": now + s.id_token_ttl,
            **authentication_claims(authz),
        }
        if grant.nonce:
            id_claims["nonce"] = grant.nonce
        body["id_token"] = sign(id_claims, "JWT")
    # Recorded with one plain INSERT (no ORM unit of work on the hot path).
    core(insert(IssuedToken.__table__), records)
    if grant.consent is not None:
        record_use(grant.consent, at_most_every=0)  # every issue and refresh, in this transaction
    return body


def revoke_authorization(authorization_id: str, reason: str) -> None:
    """Revoke a grant and every token issued from it (RFC 6749 §4.1.2, §10.4)."""
    now = clock.now_int()
    db.session.execute(
        update(Authorization)
        .where(Authorization.id == authorization_id, Authorization.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    db.session.execute(
        update(IssuedToken)
        .where(IssuedToken.authorization_id == authorization_id, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


@dataclass(frozen=True)
class VerifiedAccessToken:
    claims: dict
    record: IssuedToken
    #: the consent of the token's grant, in force now (None: the grant has no consent,
    #: or the caller checks it itself)
    consent: Consent | None = None
    #: the token's grant (None for client credentials)
    authorization: Authorization | None = None


#: What joserfc raises on crafted input besides its own errors (e.g. a header with
#: ``"crit": [1]`` is a TypeError before any signature check): every one is "invalid token".
MALFORMED_TOKEN = (JoseError, ValueError, TypeError, KeyError, AttributeError, RecursionError)


def decode_access_token(token: str, *, check_expiry: bool = True) -> dict:
    """Verify an access token's signature, type and issuer; its claims."""
    s = settings()
    try:
        decoded = jwt.decode(token, keyring().verification_keyset(), algorithms=["ES256", "PS256"])
    except MALFORMED_TOKEN:
        raise InvalidToken() from None
    if decoded.header.get("typ") != "at+jwt":
        raise InvalidToken()
    options = {"iss": {"essential": True, "value": s.issuer}, "jti": {"essential": True}}
    if check_expiry:
        options["exp"] = {"essential": True}
    try:
        jwt.JWTClaimsRegistry(now=clock.now_int, **options).validate(decoded.claims)
    except MALFORMED_TOKEN:
        raise InvalidToken() from None
    return decoded.claims


def verify_access_token(token: str, *, check_consent: bool = True) -> VerifiedAccessToken:
    """An access token that is valid now: signed by us, unexpired, not revoked,
    its grant not revoked, and the grant's consent (if any) in force. Checked
    on every use, never from the JWT alone.

    ``check_consent=False`` is for a caller that checks the grant's consent
    itself, live, as a step of its own with refusals of its own (the resource
    proxy's pipeline): the consent is then left to it, never skipped."""
    claims = decode_access_token(token)
    record = db.session.scalar(
        select(IssuedToken).where(IssuedToken.lookup == claims["jti"], IssuedToken.kind == ACCESS_TOKEN)
    )
    if record is None or record.revoked_at is not None:
        raise InvalidToken()
    consent = None
    authz = None
    if record.authorization_id is not None:
        authz = db.session.get(Authorization, record.authorization_id)
        if authz is None or authz.revoked_at is not None:
            raise InvalidToken()
        if authz.consent_id is not None and check_consent:
            try:
                consent = consent_in_force(authz.consent_id, authz.subject)
            except ConsentNotInForce as refusal:
                raise InvalidToken(refusal.description) from None
    return VerifiedAccessToken(claims=claims, record=record, consent=consent, authorization=authz)
