"""Client authentication with ``private_key_jwt`` (RFC 7523 §2.2, §3; OIDC
Core §9), built on Authlib's ``JWTBearerClientAssertion``.

Senim's rules on top of the RFC (FAPI 2.0 Security Profile §5.3.2.1):
- ``aud`` is the issuer identifier (draft-ietf-oauth-rfc7523bis);
- asymmetric algorithms only (PS256, ES256, EdDSA), never ``none`` or HMAC;
- ``exp`` is required and at most a few minutes ahead;
- ``jti`` is single use (RFC 7523 §3 item 7), across every worker.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from authlib.oauth2.rfc6749.requests import OAuth2Request
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.client_keys import client_keyset, header_kid
from idp.errors import (
    ClientAssertionInvalid,
    ClientAssertionReplayed,
    ClientAssertionTooLongLived,
    ClientDisabled,
)
from idp.models import Client
from idp.replay import use_once
from idp.rfc8705_certificate_binding import check_certificate_binding
from senim import clock

CLIENT_ASSERTION_ALGS = ("ES256", "PS256", "EdDSA")
MAX_ASSERTION_LENGTH = 8192


#: The key id the assertion being checked names: a client publishing its keys
#: (jwks_uri) may have rotated to a key the platform has not fetched yet.
_assertion_kid: ContextVar[str | None] = ContextVar("assertion_kid", default=None)


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, issuer: str, max_age: int, leeway: int = 5) -> None:
        super().__init__(validate_jti=True, leeway=leeway)
        self.issuer = issuer
        self.max_age = max_age

    def __call__(self, query_client: Callable[[str], Client | None], request: OAuth2Request) -> Client | None:
        assertion = request.form.get("client_assertion") or ""
        if len(assertion) > MAX_ASSERTION_LENGTH:
            raise ClientAssertionInvalid("The client assertion is too large.")
        token = _assertion_kid.set(header_kid(assertion) if assertion else None)
        try:
            client = super().__call__(query_client, request)
        except (ValueError, TypeError, RecursionError):
            # A malformed assertion (deeply nested or non-text claims) is a refusal, not a 500.
            raise ClientAssertionInvalid("The client assertion is malformed.") from None
        finally:
            _assertion_kid.reset(token)
        if client is not None and client.disabled_at is not None:
            raise ClientDisabled()
        if client is not None:
            check_certificate_binding(client)  # RFC 8705: a bound client also shows its certificate
        return client

    def get_audiences(self) -> list[str]:
        return [self.issuer]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        return client_keyset(client, kid=_assertion_kid.get())

    def process_assertion_claims(self, assertion: str, resolve_key: KeySet) -> dict:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(CLIENT_ASSERTION_ALGS))
        except (JoseError, ValueError, TypeError, RecursionError):
            raise ClientAssertionInvalid("The client assertion signature is invalid.") from None
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: jwt.Claims) -> None:
        # RFC 7523 §3: iss and sub are the client_id, aud names this server,
        # exp is required; checked against the application clock.
        registry = jwt.JWTClaimsRegistry(
            now=clock.now_int,
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise ClientAssertionInvalid(f"Client assertion: {error.description}") from None
        # FAPI 2.0 SP §5.3.2.1 item 8: the issuer identifier "as a string".
        if claims["aud"] != self.issuer:
            raise ClientAssertionInvalid("Client assertion: aud must be the issuer identifier as a string.")
        if claims["sub"] != claims["iss"]:
            raise ClientAssertionInvalid("Client assertion: iss and sub must both be the client_id.")
        self.validate_jti(claims, claims["jti"])

    def validate_jti(self, claims: dict, jti: str) -> bool:
        now = clock.now_int()
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp > now + self.max_age:
            raise ClientAssertionTooLongLived()
        use_once("client_assertion", f"{claims['sub']}:{jti}", exp + self.leeway, ClientAssertionReplayed)
        return True
