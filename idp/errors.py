"""Named refusals of the authorization server.

Each refusal is its own exception, named for the rule it enforces, and maps to
one standard OAuth error response (RFC 6749 §5.2, RFC 9126 §2.3, RFC 9449 §7,
RFC 9396 §5). The description tells the client what was wrong; it never
echoes a secret.
"""

from __future__ import annotations

import re

from authlib.oauth2.rfc6749 import errors as oauth

_NOT_ALLOWED_IN_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class Refusal(oauth.OAuth2Error):
    """Base of every named refusal; ``reason`` is a stable code for the audit log."""

    reason = "refused"

    def __init__(self, description: str | None = None, **kwargs: object) -> None:
        text = description or self.description
        # RFC 6749 §5.2: error_description is restricted to printable ASCII
        # without '"' and '\\'; anything else a client sent is replaced.
        text = _NOT_ALLOWED_IN_DESCRIPTION.sub("?", text)
        super().__init__(description=text, **kwargs)


# -- generic OAuth errors --------------------------------------------------
class InvalidRequest(Refusal):
    error = "invalid_request"
    reason = "invalid_request"


class InvalidClient(Refusal):
    error = "invalid_client"
    status_code = 401
    reason = "invalid_client"


class InvalidGrant(Refusal):
    error = "invalid_grant"
    reason = "invalid_grant"


class UnauthorizedClient(Refusal):
    error = "unauthorized_client"
    reason = "unauthorized_client"


class InvalidScope(Refusal):
    error = "invalid_scope"
    reason = "invalid_scope"


class AccessDenied(Refusal):
    error = "access_denied"
    reason = "access_denied"


# -- client authentication (RFC 7523) ---------------------------------------
class ClientAssertionInvalid(InvalidClient):
    reason = "client_assertion_invalid"
    description = "The client assertion is not valid."


class ClientAssertionReplayed(InvalidClient):
    reason = "client_assertion_replayed"
    description = "The client assertion 'jti' has been used before."


class ClientAssertionTooLongLived(InvalidClient):
    reason = "client_assertion_too_long_lived"
    description = "The client assertion expires too far in the future."


class ClientCertificateRequired(InvalidClient):
    """RFC 8705 §2: the client is bound to certificates and did not present one of them."""

    reason = "client_certificate_required"
    description = "The client must present one of its bound certificates (mutual TLS)."


class ClientDisabled(InvalidClient):
    reason = "client_disabled"
    description = "The client is disabled."


class ApiUserNotActive(UnauthorizedClient):
    """The client authenticated, but the API user it belongs to is blocked (idp.api_user_status)."""

    reason = "api_user_not_active"
    description = "The API user this client belongs to is blocked on the platform."


# -- PAR (RFC 9126) and the authorize endpoint --------------------------------
class InvalidRequestUri(Refusal):
    error = "invalid_request_uri"
    reason = "request_uri_invalid"
    description = "The request_uri is unknown, expired or already used."


class PushedAuthorizationRequired(InvalidRequest):
    reason = "par_required"
    description = "Authorization requests must be pushed first (RFC 9126): send client_id and request_uri."


class ParametersOutsidePar(InvalidRequest):
    reason = "parameters_outside_par"
    description = "Only client_id and request_uri may accompany a pushed authorization request."


class RequestUriNotAllowedAtPar(InvalidRequest):
    reason = "request_uri_at_par"
    description = "request_uri must not be sent to the pushed authorization request endpoint."


class InvalidRequestObject(Refusal):
    error = "invalid_request_object"
    reason = "request_object_invalid"
    description = "The request object is not valid."


class RedirectUriMismatch(InvalidRequest):
    reason = "redirect_uri_mismatch"
    description = "redirect_uri is not registered for this client."


class UnsupportedResponseType(Refusal):
    error = "unsupported_response_type"
    reason = "unsupported_response_type"
    description = "Only response_type=code is supported."


class PkceRequired(InvalidRequest):
    reason = "pkce_required"
    description = "PKCE with code_challenge_method=S256 is required."


class InvalidAuthorizationDetails(Refusal):
    error = "invalid_authorization_details"
    reason = "authorization_details_invalid"


class InteractionInvalid(InvalidRequest):
    reason = "interaction_invalid"
    description = "This sign-in step is unknown, expired, already used or belongs to another browser."


# -- token endpoint ------------------------------------------------------------
class CodeInvalid(InvalidGrant):
    reason = "code_invalid"
    description = "The authorization code is invalid."


class CodeReused(InvalidGrant):
    reason = "code_reused"
    description = "The authorization code has already been used; tokens issued from it are revoked."


class CodeExpired(InvalidGrant):
    reason = "code_expired"
    description = "The authorization code has expired."


class RedirectUriDiffers(InvalidGrant):
    reason = "redirect_uri_differs"
    description = "redirect_uri does not match the authorization request."


class PkceVerifierMismatch(InvalidGrant):
    reason = "pkce_verifier_mismatch"
    description = "code_verifier does not match the code_challenge."


class RefreshTokenInvalid(InvalidGrant):
    reason = "refresh_token_invalid"
    description = "The refresh token is invalid, expired or revoked."


class RefreshTokenReused(InvalidGrant):
    reason = "refresh_token_reused"
    description = "The refresh token has already been used; the whole grant is revoked."


class AuthorizationRevoked(InvalidGrant):
    reason = "authorization_revoked"
    description = "The grant behind this request has been revoked."


class ConsentNotInForce(InvalidGrant):
    """The grant's consent was revoked, rejected or has expired, its API user is
    blocked, or another customer authorised it (idp.consents.binding)."""

    reason = "consent_not_in_force"
    description = "The consent behind this grant is no longer in force."


# -- DPoP (RFC 9449) -------------------------------------------------------------
class InvalidDPoPProof(Refusal):
    error = "invalid_dpop_proof"
    reason = "dpop_proof_invalid"
    description = "The DPoP proof is invalid."


class DPoPProofMissing(InvalidDPoPProof):
    reason = "dpop_proof_missing"
    description = "A DPoP proof is required (RFC 9449): every access token is sender-constrained."


class DPoPProofReplayed(InvalidDPoPProof):
    reason = "dpop_proof_replayed"
    description = "The DPoP proof 'jti' has been used before."


class DPoPProofStale(InvalidDPoPProof):
    reason = "dpop_proof_stale"
    description = "The DPoP proof 'iat' is outside the accepted window."


class DPoPKeyMismatch(InvalidDPoPProof):
    reason = "dpop_key_mismatch"
    description = "The DPoP proof is signed by another key than the one this grant is bound to."


class UseDPoPNonce(Refusal):
    error = "use_dpop_nonce"
    reason = "dpop_nonce_required"
    description = "The DPoP proof must carry the server-provided nonce."

    def __init__(self, nonce: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("DPoP-Nonce", self.nonce)]


# -- protected resources (RFC 6750 §3.1, RFC 9449 §7.1) -----------------------------
class InvalidToken(Refusal):
    error = "invalid_token"
    status_code = 401
    reason = "access_token_invalid"
    description = "The access token is invalid, expired or revoked."


class InsufficientScope(Refusal):
    error = "insufficient_scope"
    status_code = 403
    reason = "insufficient_scope"
