"""Persistent state of the authorization server.

Times are integer seconds since the epoch (the application clock). Secrets
handed to clients (codes, refresh tokens, request URIs, browser bindings) are
stored only as SHA-256 hashes; access tokens are known by their ``jti``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column

from senim.database import core, db


def secret_hash(value: str) -> str:
    """The stored form of a high-entropy secret (never the secret itself)."""
    return hashlib.sha256(value.encode()).hexdigest()


class ClientRules:
    """What Authlib asks of a client (rfc6749.ClientMixin) and Senim's own rules,
    shared by the model and by the read-only snapshot the endpoints use."""

    client_id: str
    redirect_uris: list
    grant_types: list
    scope: str
    token_endpoint_auth_method: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # FAPI 2.0: the redirect URI is always sent, never defaulted

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 §4.1.3, FAPI 2.0 §5.3.1.2).
        return redirect_uri in (self.redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # Senim issues no client secrets

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in (self.grant_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.grant_types or [])

    def scope_allows(self, scope: str) -> bool:
        return set(scope.split()) <= set(self.scope.split())


class Client(ClientRules, db.Model):
    """An OAuth client of an API user (a bank or fintech app)."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="")
    jwks: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40), default="private_key_jwt")
    created_at: Mapped[int] = mapped_column(BigInteger)
    disabled_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: the API user (registry participant) the client belongs to; None for clients
    #: registered before the registry knew participants
    participant_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("participants.id"), nullable=True
    )
    #: where consent events (RFC 8417 Security Event Tokens) are POSTed; None: not told
    notification_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: where the client publishes its public keys (instead of a registered ``jwks``)
    jwks_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the app's logo for the consent screen and the cabinet (PNG, re-encoded by the platform)
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: serials of the platform CA's mTLS certificates the client must present (RFC 8705 §2.1.1)
    bound_certificate_serials: Mapped[list | None] = mapped_column(JSON, nullable=True)

    def as_public_dict(self) -> dict:
        return {
            "client_id": self.client_id,
            "client_name": self.name,
            "redirect_uris": list(self.redirect_uris or []),
            "grant_types": list(self.grant_types or []),
            "response_types": ["code"] if "authorization_code" in (self.grant_types or []) else [],
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "jwks": self.jwks,
            "created_at": self.created_at,
            "participant_id": self.participant_id,
            "notification_uri": self.notification_uri,
            "jwks_uri": self.jwks_uri,
        }


@dataclass(frozen=True)
class ClientSnapshot(ClientRules):
    """A client as one request sees it: read with a plain query, never written."""

    client_id: str
    name: str
    redirect_uris: list
    grant_types: list
    scope: str
    jwks: dict | None
    token_endpoint_auth_method: str
    disabled_at: int | None
    participant_id: str | None
    jwks_uri: str | None = None
    bound_certificate_serials: list | None = None

    @classmethod
    def load(cls, client_id: str) -> ClientSnapshot | None:
        row = core(_SELECT_CLIENT_SNAPSHOT, {"client_id": client_id}).first()
        return None if row is None else cls(*row)


_CLIENTS = Client.__table__
_SELECT_CLIENT_SNAPSHOT = select(
    _CLIENTS.c.client_id,
    _CLIENTS.c.name,
    _CLIENTS.c.redirect_uris,
    _CLIENTS.c.grant_types,
    _CLIENTS.c.scope,
    _CLIENTS.c.jwks,
    _CLIENTS.c.token_endpoint_auth_method,
    _CLIENTS.c.disabled_at,
    _CLIENTS.c.participant_id,
    _CLIENTS.c.jwks_uri,
    _CLIENTS.c.bound_certificate_serials,
).where(_CLIENTS.c.client_id == bindparam("client_id"))


class PushedAuthorizationRequest(db.Model):
    """An authorization request pushed by a client (RFC 9126)."""

    __tablename__ = "pushed_authorization_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_uri_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    parameters: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Interaction(db.Model):
    """A customer's login and consent step, handed off from /authorize.

    Bound to the browser that started it by a cookie (stored as a hash), so
    that nobody else can resume it.
    """

    __tablename__ = "authorization_interactions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_binding_hash: Mapped[str] = mapped_column(String(64))
    par_id: Mapped[int] = mapped_column(ForeignKey("pushed_authorization_requests.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(128), nullable=True)
    auth_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acr: Mapped[str | None] = mapped_column(String(128), nullable=True)
    amr: Mapped[list | None] = mapped_column(JSON, nullable=True)
    granted_authorization_details: Mapped[list | None] = mapped_column(JSON, nullable=True)
    resumed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Authorization(db.Model):
    """One grant of a customer (or of a client for itself) to a client.

    Every code, refresh token and access token issued from it belongs to it:
    revoking it revokes them all (reused code, reused refresh token).
    """

    __tablename__ = "authorizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    authorization_details: Mapped[list | None] = mapped_column(JSON, nullable=True)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auth_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acr: Mapped[str | None] = mapped_column(String(128), nullable=True)
    amr: Mapped[list | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the consent (idp.consents) the customer authorised in this grant, if any:
    #: its tokens live only as long as the consent does
    consent_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)


class AuthorizationCode(db.Model):
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    authorization_id: Mapped[str] = mapped_column(ForeignKey("authorizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class IssuedToken(db.Model):
    """An issued access token (by ``jti``) or refresh token (by hash)."""

    __tablename__ = "issued_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # access_token | refresh_token
    lookup: Mapped[str] = mapped_column(String(64), unique=True)  # jti, or hash of refresh token
    authorization_id: Mapped[str | None] = mapped_column(
        ForeignKey("authorizations.id"), index=True, nullable=True
    )
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(128), nullable=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # refresh rotated
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: the refresh token whose use issued this one (rotation lineage)
    rotated_from: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)


class SeenJti(db.Model):
    """Replay cache: a ``jti`` (client assertion, DPoP proof, request object)
    is accepted once within its lifetime."""

    __tablename__ = "seen_jtis"

    namespace: Mapped[str] = mapped_column(String(32), primary_key=True)
    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
