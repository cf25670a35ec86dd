"""Token introspection (RFC 7662) and revocation (RFC 7009) for authenticated
clients, on Authlib's endpoints. A client sees and revokes only its own tokens.

Introspection answers from the database on every call: a token whose grant was
revoked (reused code or refresh token, revocation), or whose grant's consent
is no longer in force (revoked, expired, its API user blocked, another
customer's: ``idp.consents.binding``), is ``active: false`` at once, even
before its ``exp``. So is every token of a client whose API user is blocked,
with or without a consent (``idp.api_user_status``): the blocked API user
still authenticates here, and learns its tokens are no longer active. The
answer names the consent (``consent_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authlib.oauth2.rfc6749.requests import OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy import select, update

from idp.api_user_status import client_api_user_active
from idp.consents.binding import consent_in_force
from idp.errors import ConsentNotInForce, InvalidToken
from idp.models import Authorization, Client, IssuedToken, secret_hash
from idp.tokens import ACCESS_TOKEN, REFRESH_TOKEN, decode_access_token, revoke_authorization
from senim import clock
from senim.audit import audit
from senim.database import db

AUTH_METHODS = ["private_key_jwt"]


@dataclass
class KnownToken:
    record: IssuedToken
    claims: dict | None  # the access token's claims; None for a refresh token
    authorization: Authorization | None = field(default=None, init=False)  # read by is_revoked

    def check_client(self, client: Client) -> bool:
        # RFC 7009 §2.1: a client may revoke only tokens issued to it.
        return self.record.client_id == client.client_id

    def is_expired(self) -> bool:
        return self.record.expires_at <= clock.now_int()

    def is_revoked(self) -> bool:
        if self.record.revoked_at is not None:
            return True
        if self.record.kind == REFRESH_TOKEN and self.record.used_at is not None:
            return True
        if not client_api_user_active(self.record.client_id):
            return True
        if self.record.authorization_id:
            authz = self.authorization = db.session.get(Authorization, self.record.authorization_id)
            if authz is None or authz.revoked_at is not None:
                return True
            if authz.consent_id is not None:
                try:
                    consent_in_force(authz.consent_id, authz.subject)
                except ConsentNotInForce:
                    return True
        return False


def find_token(token: str, hint: str | None) -> KnownToken | None:
    """Our record of a token value, whichever kind it is."""
    kinds = [REFRESH_TOKEN, ACCESS_TOKEN] if hint == REFRESH_TOKEN else [ACCESS_TOKEN, REFRESH_TOKEN]
    for kind in kinds:
        if kind == ACCESS_TOKEN:
            try:
                claims = decode_access_token(token, check_expiry=False)
            except InvalidToken:
                continue
            lookup = claims["jti"]
        else:
            claims, lookup = None, secret_hash(token)
        record = db.session.scalar(
            select(IssuedToken).where(IssuedToken.lookup == lookup, IssuedToken.kind == kind)
        )
        if record is not None:
            return KnownToken(record, claims)
    return None


class SenimIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> KnownToken | None:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: KnownToken, client: Client, request: OAuth2Request) -> bool:
        return token.record.client_id == client.client_id

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, dict, list]:
        status, body, headers = super().create_endpoint_response(request)
        db.session.commit()  # replay cache of the client assertion
        audit("token.introspected", client_id=request.client.client_id, active=body.get("active"))
        return status, body, headers

    def introspect_token(self, token: KnownToken) -> dict:
        record = token.record
        body = {
            "active": True,
            "client_id": record.client_id,
            "token_type": "DPoP" if record.kind == ACCESS_TOKEN else "refresh_token",
            "scope": record.scope,
            "sub": record.subject or record.client_id,
            "iat": record.issued_at,
            "exp": record.expires_at,
            "iss": self.server.issuer,
        }
        if record.dpop_jkt and record.kind == ACCESS_TOKEN:
            body["cnf"] = {"jkt": record.dpop_jkt}
        if token.claims:
            body["jti"] = token.claims["jti"]
            body["aud"] = token.claims.get("aud")
            if "authorization_details" in token.claims:
                body["authorization_details"] = token.claims["authorization_details"]
        if token.authorization is not None and token.authorization.consent_id is not None:
            body["consent_id"] = token.authorization.consent_id
        return body


class SenimRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> KnownToken | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: KnownToken, request: OAuth2Request) -> None:
        record = token.record
        if record.kind == REFRESH_TOKEN and record.authorization_id:
            # RFC 7009 §2.1: revoking a refresh token revokes the grant's access tokens too.
            revoke_authorization(record.authorization_id, "revoked_by_client")
        else:
            db.session.execute(
                update(IssuedToken)
                .where(IssuedToken.id == record.id, IssuedToken.revoked_at.is_(None))
                .values(revoked_at=clock.now_int())
            )
        audit("token.revoked", client_id=record.client_id, kind=record.kind, grant_id=record.authorization_id)

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, dict, list]:
        result = super().create_endpoint_response(request)
        db.session.commit()
        return result
