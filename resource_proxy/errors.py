"""Named refusals of the resource proxy.

Each refusal is its own exception, named for the rule it enforces, and maps to
one answer in the standard's error shape (``resource_proxy.standard.errors``,
the shape of the consent API; UK Open Banking Read/Write style):

    {"Code": "403 Forbidden", "Id": "<x-fapi-interaction-id>", "Message": "...",
     "Errors": [{"ErrorCode": "KZ.SENIM.Consent.Revoked", "Message": "...", "Path": "..."}]}

``reason`` is the stable code of the audit log and of the metering row's
outcome (``refused:<reason>``). Messages never echo a token or account data.
"""

from __future__ import annotations

from flask import Response, jsonify

from resource_proxy.standard import errors as standard


class ProxyRefusal(Exception):
    """Base of every refusal: HTTP status, standard error code, audit reason, message."""

    status = 400
    error_code = "KZ.SENIM.Request.Invalid"
    reason = "refused"
    message = "The request was refused."
    path: str | None = None

    def __init__(self, message: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        if reason is not None:
            self.reason = reason

    @property
    def outcome(self) -> str:
        return f"refused:{self.reason}"

    def headers(self) -> dict[str, str]:
        return {}


# -- the caller's credentials (RFC 6750 §3.1, RFC 9449 §7) -------------------------------------
class AccessTokenInvalid(ProxyRefusal):
    status = 401
    error_code = "KZ.SENIM.AccessToken.Invalid"
    reason = "access_token_invalid"
    message = "The access token is missing, invalid, expired or revoked."
    path = "Authorization"

    def headers(self) -> dict[str, str]:
        # RFC 9449 §7.1: the challenge names the DPoP scheme.
        return {"WWW-Authenticate": 'DPoP error="invalid_token", algs="ES256 PS256 EdDSA"'}


class DPoPProofRefused(ProxyRefusal):
    """The DPoP proof is missing, invalid, for another request, stale or replayed (RFC 9449 §4.3);
    ``reason`` is the authorization server's (``dpop_proof_replayed``, …)."""

    status = 401
    error_code = "KZ.SENIM.DPoP.Invalid"
    reason = "dpop_proof_invalid"
    message = "The DPoP proof is invalid."
    path = "DPoP"

    def __init__(
        self, message: str | None = None, *, reason: str | None = None, nonce: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.nonce = nonce

    def headers(self) -> dict[str, str]:
        error = "use_dpop_nonce" if self.nonce else "invalid_dpop_proof"
        headers = {"WWW-Authenticate": f'DPoP error="{error}", algs="ES256 PS256 EdDSA"'}
        if self.nonce:
            headers["DPoP-Nonce"] = self.nonce  # RFC 9449 §9
        return headers


class NotACustomerToken(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.AccessToken.NotForCustomer"
    reason = "client_credentials_token"
    message = "Account data needs a customer's access token; a client-credentials token gives none."
    path = "Authorization"


class AccountIdInvalid(ProxyRefusal):
    status = 400
    error_code = standard.FIELD_INVALID
    reason = "account_id_invalid"
    message = "AccountId may hold letters, digits, '-' and '_' only (1 to 128)."
    path = "AccountId"


class QueryParameterInvalid(ProxyRefusal):
    status = 400
    error_code = standard.FIELD_INVALID
    reason = "query_invalid"
    message = "A query parameter is not what the standard allows."

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.path = name


# -- the consent (checked live, idp/consents/binding.py) -----------------------------------------
class ConsentMissing(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Consent.Missing"
    reason = "no_consent"
    message = "The access token was not granted under a consent."


class ConsentNotFound(ConsentMissing):
    reason = "consent_unknown"
    message = "The consent behind the access token does not exist."


class ConsentNotAuthorised(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Resource.InvalidConsentStatus"
    reason = "consent_not_authorised"
    message = "The consent is not Authorised."


class ConsentRevoked(ConsentNotAuthorised):
    reason = "consent_revoked"
    message = "The consent has been revoked."


class ConsentRejected(ConsentNotAuthorised):
    reason = "consent_rejected"
    message = "The consent was rejected."


class ConsentExpired(ConsentNotAuthorised):
    reason = "consent_expired"
    message = "The consent has expired."


class ConsentOfAnotherCustomer(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Consent.OtherCustomer"
    reason = "consent_other_customer"
    message = "The consent was authorised by another customer than the access token's."


class PermissionMissing(ProxyRefusal):
    status = 403
    error_code = standard.PERMISSION_MISSING
    reason = "permission_missing"
    message = "The consent does not grant a permission this endpoint needs."


# -- the bank ---------------------------------------------------------------------------------------
class BankNotNamed(ProxyRefusal):
    status = 400
    error_code = "KZ.SENIM.Header.Missing"
    reason = "provider_missing"
    message = "Name the bank with the x-provider-id header."
    path = "x-provider-id"


class BankUnknown(ProxyRefusal):
    status = 400
    error_code = "KZ.SENIM.Participant.Unknown"
    reason = "provider_unknown"
    message = "x-provider-id names no bank of the platform."
    path = "x-provider-id"


class BankNotInConsent(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Consent.BankNotCovered"
    reason = "bank_not_in_consent"
    message = "The customer did not consent to this bank."
    path = "x-provider-id"


class BankBlocked(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Participant.Blocked"
    reason = "bank_blocked"
    message = "The bank is not an active participant of the platform."
    path = "x-provider-id"


# -- the API user -----------------------------------------------------------------------------------
class ApiUserUnknown(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Participant.Unknown"
    reason = "api_user_unknown"
    message = "The client belongs to no API user of the platform."


class ApiUserBlocked(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Participant.Blocked"
    reason = "api_user_blocked"
    message = "The API user is not an active participant of the platform."


# -- routing -----------------------------------------------------------------------------------------
class ApiNotPublished(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Api.NotPublished"
    reason = "api_not_published"
    message = "The bank has no published account-information API."
    path = "x-provider-id"


class ApiUserNotSubscribed(ProxyRefusal):
    status = 403
    error_code = "KZ.SENIM.Api.NotSubscribed"
    reason = "api_user_not_subscribed"
    message = "The client is not subscribed to this bank's API."
    path = "x-provider-id"


class RateLimited(ProxyRefusal):
    status = 429
    error_code = standard.TOO_MANY_REQUESTS
    reason = "rate_limited"
    message = "Too many calls: slow down and retry after the time in Retry-After."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}  # RFC 9110 §10.2.3, seconds


# -- the bank's answer (the platform stays up) ----------------------------------------------------
class BankUnavailable(ProxyRefusal):
    status = 502
    error_code = standard.BANK_UNAVAILABLE
    reason = "bank_unavailable"
    message = "The bank could not be reached."


class BankTimeout(ProxyRefusal):
    status = 504
    error_code = standard.BANK_TIMEOUT
    reason = "bank_timeout"
    message = "The bank did not answer in time."


class BankAnswerInvalid(ProxyRefusal):
    status = 502
    error_code = standard.BANK_INVALID_ANSWER
    reason = "bank_answer_invalid"
    message = "The bank answered outside the standard; nothing of it is passed on."


def refusal_response(refusal: ProxyRefusal, interaction_id: str) -> Response:
    """The standard error answer for ``refusal``."""
    body = standard.error_body(
        refusal.status, interaction_id, refusal.message, refusal.error_code, refusal.path
    )
    response = jsonify(body)
    response.status_code = refusal.status
    response.headers["Cache-Control"] = "no-store"
    for name, value in refusal.headers().items():
        response.headers[name] = value
    return response
