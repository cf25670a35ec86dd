"""The checks of a routed call, one function per rule, each raising one named
refusal (``resource_proxy.errors``). Their order is in ``pipeline.py``.

Each check reads what the earlier ones put on the ``ProxyCall`` and adds what
it learnt. Everything about the consent, the participants and the routing
tables is read from the database on every call, never from the token alone.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, request
from sqlalchemy import select

from idp import errors as idp_errors
from idp.consents.binding import check_same_customer
from idp.consents.lifecycle import settle
from idp.consents.models import AUTHORISED, EXPIRED, REJECTED, REVOKED, Consent
from idp.models import Client
from idp.tokens import VerifiedAccessToken, verify_access_token
from registry.apis import active_subscription, published_api
from registry.models import PublishedApi
from registry.participants import (
    API_PROVIDER,
    API_USER,
    ParticipantBlocked,
    ParticipantError,
    get_participant,
    require_active,
)
from resource_proxy import errors as E
from resource_proxy.standard import Endpoint, permits
from senim import clock
from senim.database import db

PROVIDER_HEADER = "x-provider-id"
#: Account ids are passed into the bank's URL path: nothing that could change the path.
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


@dataclass
class ProxyCall:
    """One call to the proxy, filled in as it passes the checks."""

    endpoint: Endpoint
    path_params: dict[str, str]
    interaction_id: str
    #: time.perf_counter() when the call arrived (latency)
    started: float
    token: str = ""
    verified: VerifiedAccessToken | None = None
    client_id: str | None = None
    #: the API user (participant) whose client holds the token, once known
    api_user_id: str | None = None
    consent: Consent | None = None
    provider_id: str | None = None
    api: PublishedApi | None = None
    extra: dict = field(default_factory=dict)


def check_access_token(call: ProxyCall) -> None:
    """RFC 6750 §2.1, RFC 9449 §7.1, RFC 9068 §4: ``Authorization: DPoP <token>``, a token
    signed by the platform, unexpired, not revoked, its grant not revoked. Its consent is
    left to ``check_consent_authorised_and_not_expired``, which reads it live."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "dpop" or not token:
        raise E.AccessTokenInvalid("A DPoP-bound access token is required (Authorization: DPoP ...).")
    try:
        verified = verify_access_token(token, check_consent=False)
    except idp_errors.InvalidToken:
        raise E.AccessTokenInvalid() from None
    call.token = token
    call.verified = verified
    call.client_id = verified.record.client_id
    client = db.session.scalar(select(Client).where(Client.client_id == call.client_id))
    call.api_user_id = client.participant_id if client is not None else None


def check_dpop_proof(call: ProxyCall) -> None:
    """RFC 9449 §4.3 and §7.1: one proof for this method and URI (``htm``, ``htu``), fresh,
    hashing this token (``ath``), signed by the key the token is bound to (``cnf.jkt``),
    its ``jti`` used once (§11.1). The authorization server's own verification."""
    expected = call.verified.claims.get("cnf", {}).get("jkt") if call.verified else None
    server = current_app.extensions["senim.authorization_server"]
    try:
        server.verify_dpop_for_request(access_token=call.token, expected_jkt=expected)
    except idp_errors.UseDPoPNonce as refusal:
        raise E.DPoPProofRefused(refusal.description, reason=refusal.reason, nonce=refusal.nonce) from None
    except idp_errors.Refusal as refusal:
        raise E.DPoPProofRefused(refusal.description, reason=refusal.reason) from None


def check_customer_token(call: ProxyCall) -> None:
    """Account data is read on a customer's behalf: a client-credentials token (no grant,
    no customer) serves the consent API, never data endpoints."""
    verified = call.verified
    if verified is None or verified.authorization is None or not verified.record.subject:
        raise E.NotACustomerToken()


_STATUS_REFUSALS: dict[str, type[E.ProxyRefusal]] = {
    REVOKED: E.ConsentRevoked,
    REJECTED: E.ConsentRejected,
    EXPIRED: E.ConsentExpired,
}


def check_consent_authorised_and_not_expired(call: ProxyCall) -> None:
    """The token's grant has a consent, read from the register now (a revocation
    committed a moment ago counts): it is Authorised, not past its
    ExpirationDateTime, and was authorised by this token's customer
    (idp/consents/binding.py). Never decided from the token's claims."""
    authorization = call.verified.authorization
    if authorization.consent_id is None:
        raise E.ConsentMissing()
    consent = db.session.get(Consent, authorization.consent_id, populate_existing=True)
    if consent is None:
        raise E.ConsentNotFound()
    settle(consent)  # past its expiry it becomes Expired, recorded at once
    if consent.status != AUTHORISED:
        raise _STATUS_REFUSALS.get(consent.status, E.ConsentNotAuthorised)()
    if consent.expires_at <= clock.now_int():
        raise E.ConsentExpired()
    try:
        check_same_customer(consent, authorization.subject)
    except idp_errors.ConsentNotInForce:
        raise E.ConsentOfAnotherCustomer() from None
    call.consent = consent


def check_permission_covers_endpoint(call: ProxyCall) -> None:
    """The standard's permission rules (``resource_proxy.standard.permits``): accounts need
    ReadAccountsBasic or Detail, balances ReadBalances, transactions ReadTransactionsBasic or Detail."""
    if not permits(call.endpoint.key, call.consent.permissions or []):
        needed = " or ".join(sorted(call.endpoint.any_of))
        raise E.PermissionMissing(f"The consent does not grant {needed}, which {call.endpoint.key} needs.")


def check_bank_named(call: ProxyCall) -> None:
    """The bank is named by ``x-provider-id`` and is a participant with the API provider role."""
    provider_id = request.headers.get(PROVIDER_HEADER, "").strip()
    if not provider_id:
        raise E.BankNotNamed()
    bank = get_participant(provider_id)
    if bank is None or API_PROVIDER not in (bank.roles or []):
        raise E.BankUnknown()
    call.provider_id = bank.id


def check_bank_in_consent(call: ProxyCall) -> None:
    """The customer kept this bank when authorising the consent (the consent screen's ticks)."""
    if call.provider_id not in (call.consent.authorised_provider_ids or []):
        raise E.BankNotInConsent()


def check_api_user_accredited_and_active(call: ProxyCall) -> None:
    """The token's client belongs to a participant with the API user role, not blocked."""
    if call.api_user_id is None:
        raise E.ApiUserUnknown()
    try:
        require_active(call.api_user_id, API_USER)
    except ParticipantBlocked:
        raise E.ApiUserBlocked() from None
    except ParticipantError:
        raise E.ApiUserUnknown() from None


def check_bank_accredited_and_active(call: ProxyCall) -> None:
    """The bank is an active API provider (a blocked bank receives no calls)."""
    try:
        require_active(call.provider_id, API_PROVIDER)
    except ParticipantError:
        raise E.BankBlocked() from None


def check_api_published(call: ProxyCall) -> None:
    """The bank has published its account-information API (the routing table gives its base URL)."""
    api = published_api(call.provider_id)
    if api is None:
        raise E.ApiNotPublished()
    call.api = api


def check_api_user_subscribed(call: ProxyCall) -> None:
    """The token's client, of this API user, is subscribed to that API."""
    subscription = active_subscription(call.api.id, call.client_id)
    if subscription is None or subscription.participant_id != call.api_user_id:
        raise E.ApiUserNotSubscribed()


def check_account_id_well_formed(call: ProxyCall) -> None:
    """An ``AccountId`` goes into the bank's URL path: letters, digits, ``-`` and ``_`` only."""
    account_id = call.path_params.get("AccountId")
    if account_id is not None and not _ACCOUNT_ID.fullmatch(account_id):
        raise E.AccountIdInvalid()


#: The highest ``page`` asked of a bank (a page holds 25 transactions).
MAX_PAGE = 100_000


def check_query_well_formed(call: ProxyCall) -> None:
    """The query parameters passed on to the bank are what the standard allows: ``page`` a
    whole number from 1 (ASCII digits: ``"²".isdigit()`` is true), the booking date-times
    ISO 8601. A bank is never asked to parse what the standard does not allow."""
    page = request.args.get("page")
    if page is not None and not (page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_PAGE):
        raise E.QueryParameterInvalid("page", f"page is a whole number from 1 to {MAX_PAGE}")
    for name in ("fromBookingDateTime", "toBookingDateTime"):
        value = request.args.get(name)
        if value is None:
            continue
        try:
            if not value.isascii():
                raise ValueError(value)
            datetime.fromisoformat(value)
        except ValueError:
            raise E.QueryParameterInvalid(
                name, f"{name} is an ISO 8601 date-time, e.g. 2026-09-01T00:00:00+05:00"
            ) from None


def check_rate_limit(call: ProxyCall) -> None:
    """Calls per API user (``SENIM_PROXY_RATE_LIMIT``), counted in the app's Flask-Limiter
    storage. After the proof is checked, so only the key holder spends its API user's
    quota; over it: 429 with Retry-After (RFC 6585 §4)."""
    limiter = current_app.extensions["senim.limiter"]
    who = call.api_user_id or f"client:{call.client_id}"
    for item in current_app.extensions["senim.proxy_rate_limits"]:
        if not limiter.limiter.hit(item, "open-banking", who):
            reset_at, _remaining = limiter.limiter.get_window_stats(item, "open-banking", who)
            raise E.RateLimited(math.ceil(reset_at - time.time()))
