"""The token endpoint's grants, each an ordered list of named checks.

Authlib dispatches ``POST /token`` by ``grant_type`` to one of these grants and
renders every refusal as the standard error response (RFC 6749 §5.2). What
each grant checks, in order:

| check                              | authorization_code | refresh_token | client_credentials |
|------------------------------------|:------------------:|:-------------:|:------------------:|
| client authentication (RFC 7523)   | 1                  | 1             | 1                  |
| check_client_may_use_grant         | 2                  | 2             | 2                  |
| check_dpop_proof (RFC 9449)        | 3                  | 3             | 4                  |
| load_authorization_code            | 4                  |               |                    |
| check_code_not_expired             | 5                  |               |                    |
| check_redirect_uri_matches         | 6                  |               |                    |
| check_pkce_verifier (RFC 7636)     | 7                  |               |                    |
| load_refresh_token                 |                    | 4             |                    |
| check_refresh_token_not_expired    |                    | 5             |                    |
| check_authorization_not_revoked    | 8                  | 6             |                    |
| check_consent_in_force             | 9                  | 7             |                    |
| check_api_user_active              | 10                 | 8             | 3                  |
| check_dpop_key_is_bound_key        | 11                 | 9             |                    |
| check_scope_allowed                |                    | 10            | 5                  |
| record_single_use_identifiers      | 12                 | 11            | 6                  |
| check_code_not_reused              | 13                 |               |                    |
| check_refresh_token_not_reused     |                    | 12            |                    |

``check_api_user_active`` refuses every grant of a client whose API user
is blocked (``idp.api_user_status``), consent or not, read live; a grant
tied to a consent meets ``check_consent_in_force`` first, which says the
consent is no longer in force (invalid_grant) for the same reason.

``check_consent_in_force`` asks ``idp.consents.binding`` whether the consent
the grant was made for is still in force, read live every time; grants
without a consent skip it at no cost.

The checks up to ``check_scope_allowed`` only read (except that a consent
found past its expiry is recorded as Expired at once). The write phase starts
with ``record_single_use_identifiers`` (the client assertion's and the DPoP
proof's ``jti``, refused if seen before) and the claim of the code or refresh
token; the tokens are then issued (with the consent's ``last_used_at``) and
everything commits at once. Keeping the writes together keeps SQLite's writer
lock short under load.
"""

from __future__ import annotations

import hmac
import re

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import OAuth2Request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import Row, bindparam, select, update

from idp import errors
from idp.api_user_status import check_api_user_active
from idp.consents.binding import consent_in_force
from idp.models import Authorization, AuthorizationCode, IssuedToken, secret_hash
from idp.replay import record_deferred
from idp.tokens import REFRESH_TOKEN, TokenGrant, issue_tokens, revoke_authorization
from senim import clock
from senim.audit import audit
from senim.database import core, db

AUTH_METHODS = ["private_key_jwt"]
CODE_VERIFIER_FORMAT = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.1


# The hot path reads and writes rows with prebuilt Core statements (no ORM
# unit of work): the token endpoint's cost is mostly per-statement overhead.
_AUTHORIZATIONS = Authorization.__table__
_TOKENS = IssuedToken.__table__
_SELECT_AUTHORIZATION_FOR_UPDATE = (
    select(_AUTHORIZATIONS).where(_AUTHORIZATIONS.c.id == bindparam("id")).with_for_update()
)
_SELECT_REFRESH_TOKEN = select(_TOKENS).where(
    _TOKENS.c.lookup == bindparam("lookup"), _TOKENS.c.kind == REFRESH_TOKEN
)
_SELECT_TOKEN_BY_ID = select(_TOKENS).where(_TOKENS.c.id == bindparam("id"))
_CLAIM_REFRESH_TOKEN = (
    update(_TOKENS)
    .where(_TOKENS.c.id == bindparam("token_id"), _TOKENS.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
    .returning(_TOKENS.c.id)
)


def lock_authorization(authorization_id: str) -> Row | None:
    """Read a grant, locking its row for this transaction where the database
    can (PostgreSQL): requests on one grant are serialised."""
    return core(_SELECT_AUTHORIZATION_FOR_UPDATE, {"id": authorization_id}).first()


class SenimGrant:
    """What Senim's grants share: private_key_jwt, a DPoP proof on every request."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    # -- shared checks -----------------------------------------------------
    def check_client_may_use_grant(self) -> None:
        if not self.request.client.check_grant_type(self.GRANT_TYPE):
            raise errors.UnauthorizedClient(f"The client may not use grant_type={self.GRANT_TYPE}.")

    def check_api_user_active(self) -> None:
        # A blocked API user's clients get no token of any grant (idp.api_user_status).
        check_api_user_active(self.request.client.participant_id)

    def check_dpop_proof(self) -> None:
        # RFC 9449 §5: every token request carries a proof; the token is bound to its key.
        self.request.dpop = self.server.verify_dpop_for_request()

    def record_single_use_identifiers(self) -> None:
        # RFC 7523 §3 item 7, RFC 9449 §11.1: the assertion and the proof are
        # used once; recorded here, at the start of the write phase.
        record_deferred()

    def check_authorization_not_revoked(self) -> None:
        authz = self.request.authorization
        if authz is None or authz.revoked_at is not None:
            raise errors.AuthorizationRevoked()

    def check_consent_in_force(self) -> None:
        # A grant made at a consent step is used only while that consent is in
        # force: not revoked or expired, its API user active, its customer the
        # grant's (idp.consents.binding). Refusal: ConsentNotInForce, invalid_grant.
        authz = self.request.authorization
        if authz.consent_id is not None:
            self.request.consent = consent_in_force(authz.consent_id, authz.subject)

    def check_dpop_key_is_bound_key(self) -> None:
        # RFC 9449 §10: a grant bound at PAR (dpop_jkt) or at the first token
        # request is used only with that key.
        bound = self.request.authorization.dpop_jkt
        if bound and not hmac.compare_digest(bound, self.request.dpop.jkt):
            raise errors.DPoPKeyMismatch()

    def run_checks(self, checks: tuple[str, ...]) -> None:
        self.request.client = self.authenticate_token_endpoint_client()
        for name in checks:
            getattr(self, name)()

    def respond(self, body: dict, event: str) -> tuple[int, dict, list]:
        db.session.commit()
        audit(
            event,
            client_id=self.request.client.client_id,
            grant_type=self.GRANT_TYPE,
            grant_id=getattr(self.request.authorization, "id", None),
            consent_id=getattr(getattr(self.request, "consent", None), "id", None),
            jkt=self.request.dpop.jkt,
        )
        return 200, body, self.TOKEN_RESPONSE_HEADER


class AuthorizationCodeGrant(SenimGrant, grants.AuthorizationCodeGrant):
    CHECKS = (
        "check_client_may_use_grant",
        "check_dpop_proof",
        "load_authorization_code",
        "check_code_not_expired",
        "check_redirect_uri_matches",
        "check_pkce_verifier",
        "check_authorization_not_revoked",
        "check_consent_in_force",
        "check_api_user_active",
        "check_dpop_key_is_bound_key",
        "record_single_use_identifiers",
        "check_code_not_reused",
    )

    @classmethod
    def check_authorization_endpoint(cls, request: OAuth2Request) -> bool:
        return False  # /authorize is Senim's own PAR-only pipeline (idp.authorize)

    def validate_token_request(self) -> None:
        self.request.authorization = None
        self.request.consent = None
        self.run_checks(self.CHECKS)

    def load_authorization_code(self) -> None:
        code = self.request.form.get("code")
        if not code:
            raise errors.InvalidRequest("code is required.")
        record = db.session.scalar(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == secret_hash(code))
        )
        if record is None or record.client_id != self.request.client.client_id:
            raise errors.CodeInvalid()
        self.request.authorization_code = record
        self.request.authorization = lock_authorization(record.authorization_id)

    def check_code_not_reused(self) -> None:
        # RFC 6749 §4.1.2: a code used twice is refused and everything issued
        # from it is revoked. The UPDATE … WHERE used_at IS NULL makes the
        # first use win even when two requests race.
        record = self.request.authorization_code
        claimed = db.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == record.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=clock.now_int())
            .returning(AuthorizationCode.id)
        ).first()
        if claimed is None:
            revoke_authorization(record.authorization_id, "code_reused")
            raise errors.CodeReused()

    def check_code_not_expired(self) -> None:
        if self.request.authorization_code.expires_at <= clock.now_int():
            raise errors.CodeExpired()

    def check_redirect_uri_matches(self) -> None:
        if self.request.form.get("redirect_uri") != self.request.authorization_code.redirect_uri:
            raise errors.RedirectUriDiffers()

    def check_pkce_verifier(self) -> None:
        # RFC 7636 §4.6: the server verifies code_verifier before returning tokens.
        verifier = self.request.form.get("code_verifier") or ""
        if not CODE_VERIFIER_FORMAT.match(verifier):
            raise errors.PkceVerifierMismatch(
                "code_verifier is missing or not 43 to 128 unreserved characters."
            )
        expected = self.request.authorization_code.code_challenge
        if not hmac.compare_digest(create_s256_code_challenge(verifier), expected):
            raise errors.PkceVerifierMismatch()

    def create_token_response(self) -> tuple[int, dict, list]:
        authz = self.request.authorization
        if authz.dpop_jkt is None:
            # RFC 9449 §5: the grant is bound to the key of its first token request.
            db.session.execute(
                update(_AUTHORIZATIONS)
                .where(_AUTHORIZATIONS.c.id == authz.id)
                .values(dpop_jkt=self.request.dpop.jkt)
            )
        body = issue_tokens(
            TokenGrant(
                client=self.request.client,
                scope=authz.scope,
                dpop_jkt=self.request.dpop.jkt,
                authorization=authz,
                nonce=self.request.authorization_code.nonce,
                include_refresh_token=self.request.client.check_grant_type("refresh_token"),
                include_id_token="openid" in authz.scope.split(),
                consent=self.request.consent,
            )
        )
        return self.respond(body, "token.issued")


class RefreshTokenGrant(SenimGrant, grants.RefreshTokenGrant):
    """Rotating refresh tokens (RFC 9700 §4.14.2) that FAPI 2.0 allows.

    Everything is validated before the presented token is consumed, so a
    refused request never burns it. A token used a second time normally
    means it leaked, and the whole family is revoked; but if the client
    retries because it never received the response (FAPI 2.0 SP §5.3.2.1),
    the retry succeeds within ``RETRY_GRACE_SECONDS`` as long as the token
    issued in the lost response has not been used: that one is revoked
    instead.
    """

    RETRY_GRACE_SECONDS = 60
    CHECKS = (
        "check_client_may_use_grant",
        "check_dpop_proof",
        "load_refresh_token",
        "check_refresh_token_not_expired",
        "check_authorization_not_revoked",
        "check_consent_in_force",
        "check_api_user_active",
        "check_dpop_key_is_bound_key",
        "check_scope_allowed",
        "record_single_use_identifiers",
        "check_refresh_token_not_reused",
    )

    def validate_token_request(self) -> None:
        self.request.authorization = None
        self.request.consent = None
        self.run_checks(self.CHECKS)

    def load_refresh_token(self) -> None:
        token = self.request.form.get("refresh_token")
        if not token:
            raise errors.InvalidRequest("refresh_token is required.")
        record = core(_SELECT_REFRESH_TOKEN, {"lookup": secret_hash(token)}).first()
        if record is None or record.client_id != self.request.client.client_id:
            raise errors.RefreshTokenInvalid()
        self.request.refresh_record = record
        # Requests on one grant are serialised (PostgreSQL row lock), so a
        # reuse racing a rotation cannot deadlock or both succeed.
        self.request.authorization = lock_authorization(record.authorization_id)

    def check_refresh_token_not_expired(self) -> None:
        record = self.request.refresh_record
        if record.revoked_at is not None or record.expires_at <= clock.now_int():
            raise errors.RefreshTokenInvalid()

    def check_scope_allowed(self) -> None:
        # RFC 6749 §6: a narrower scope may be asked for, never a wider one.
        granted = self.request.authorization.scope.split()
        asked = (self.request.form.get("scope") or "").split()
        if asked and not set(asked) <= set(granted):
            raise errors.InvalidScope("The requested scope exceeds the original grant.")
        self.request.granted_scope = " ".join(asked) if asked else " ".join(granted)

    def check_refresh_token_not_reused(self) -> None:
        record = self.request.refresh_record
        now = clock.now_int()
        claimed = core(_CLAIM_REFRESH_TOKEN, {"token_id": record.id, "now": now}).first()
        if claimed is not None:
            return
        record = core(_SELECT_TOKEN_BY_ID, {"id": record.id}).first()
        within_grace = record.used_at is not None and now - record.used_at <= self.RETRY_GRACE_SECONDS
        if within_grace and self.revoke_unused_successor(record, now):
            return
        revoke_authorization(record.authorization_id, "refresh_token_reused")
        raise errors.RefreshTokenReused()

    @staticmethod
    def revoke_unused_successor(record: Row, now: int) -> bool:
        """Revoke what the lost response carried, if the client never used it."""
        successor = db.session.execute(
            update(IssuedToken)
            .where(
                IssuedToken.rotated_from == record.id,
                IssuedToken.kind == REFRESH_TOKEN,
                IssuedToken.used_at.is_(None),
                IssuedToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
            .returning(IssuedToken.id)
        ).first()
        if successor is None:
            return False
        db.session.execute(
            update(IssuedToken)
            .where(IssuedToken.rotated_from == record.id, IssuedToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        audit("token.refresh_retried", client_id=record.client_id, grant_id=record.authorization_id)
        return True

    def create_token_response(self) -> tuple[int, dict, list]:
        authz = self.request.authorization
        body = issue_tokens(
            TokenGrant(
                client=self.request.client,
                scope=self.request.granted_scope,
                dpop_jkt=self.request.dpop.jkt,
                authorization=authz,
                include_refresh_token=True,
                include_id_token=False,
                rotated_from=self.request.refresh_record.id,
                consent=self.request.consent,
            )
        )
        return self.respond(body, "token.refreshed")


class ClientCredentialsGrant(SenimGrant, grants.ClientCredentialsGrant):
    CHECKS = (
        "check_client_may_use_grant",
        "check_api_user_active",
        "check_dpop_proof",
        "check_scope_allowed",
        "record_single_use_identifiers",
    )

    def validate_token_request(self) -> None:
        self.request.authorization = None
        self.run_checks(self.CHECKS)

    def check_scope_allowed(self) -> None:
        asked = (self.request.form.get("scope") or "").split()
        supported = set(self.server.client_credentials_scopes)
        if not asked:
            raise errors.InvalidScope("scope is required.")
        if not set(asked) <= supported or not self.request.client.scope_allows(" ".join(asked)):
            raise errors.InvalidScope("The requested scope is not allowed for this client.")
        self.request.granted_scope = " ".join(dict.fromkeys(asked))

    def create_token_response(self) -> tuple[int, dict, list]:
        body = issue_tokens(
            TokenGrant(
                client=self.request.client,
                scope=self.request.granted_scope,
                dpop_jkt=self.request.dpop.jkt,
            )
        )
        return self.respond(body, "token.issued")
