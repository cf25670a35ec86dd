"""What the resource proxy checks, in which order, for every call.

Every endpoint of the standard (``GET /accounts``, ``/accounts/{AccountId}``,
``/accounts/{AccountId}/balances``, ``/accounts/{AccountId}/transactions``)
passes the same checks; each is a function of ``checks.py`` named for its
rule, raising one named refusal of ``errors.py``:

| #  | check                                     | refusal (status)                                      |
|----|-------------------------------------------|-------------------------------------------------------|
| 1  | check_access_token                        | AccessTokenInvalid (401)                              |
| 2  | check_dpop_proof                          | DPoPProofRefused (401): missing, htm/htu/ath, replay  |
| 3  | check_rate_limit                          | RateLimited (429, Retry-After)                        |
| 4  | check_customer_token                      | NotACustomerToken (403)                               |
| 5  | check_consent_authorised_and_not_expired  | ConsentMissing, ConsentRevoked, ConsentRejected,      |
|    |                                           | ConsentExpired, ConsentNotAuthorised, … (403)         |
| 6  | check_permission_covers_endpoint          | PermissionMissing (403)                               |
| 7  | check_bank_named                          | BankNotNamed, BankUnknown (400)                       |
| 8  | check_bank_in_consent                     | BankNotInConsent (403)                                |
| 9  | check_api_user_accredited_and_active      | ApiUserUnknown, ApiUserBlocked (403)                  |
| 10 | check_bank_accredited_and_active          | BankBlocked (403)                                     |
| 11 | check_api_published                       | ApiNotPublished (403)                                 |
| 12 | check_api_user_subscribed                 | ApiUserNotSubscribed (403)                            |
| 13 | check_account_id_well_formed              | AccountIdInvalid (400)                                |
| 14 | check_query_well_formed                   | QueryParameterInvalid (400): page, booking date-times |
|    | then: record the consent's use, forward   | BankUnavailable (502), BankTimeout (504),             |
|    | (``forwarding.py``), validate the answer  | BankAnswerInvalid (502)                               |

The checks only read, except the proof's ``jti`` (recorded as it is checked,
RFC 9449 §11.1) and ``settle`` (a consent found past its expiry becomes
Expired at once). Nothing is taken from the token that the register can say:
the consent, the participants, the routing tables are read on every call.
"""

from __future__ import annotations

from collections.abc import Callable

from resource_proxy.checks import (
    ProxyCall,
    check_access_token,
    check_account_id_well_formed,
    check_api_published,
    check_api_user_accredited_and_active,
    check_api_user_subscribed,
    check_bank_accredited_and_active,
    check_bank_in_consent,
    check_bank_named,
    check_consent_authorised_and_not_expired,
    check_customer_token,
    check_dpop_proof,
    check_permission_covers_endpoint,
    check_query_well_formed,
    check_rate_limit,
)

Check = Callable[[ProxyCall], None]

#: The order is the table above; a reviewer reads it here and nowhere else.
PIPELINE: tuple[Check, ...] = (
    check_access_token,
    check_dpop_proof,
    check_rate_limit,
    check_customer_token,
    check_consent_authorised_and_not_expired,
    check_permission_covers_endpoint,
    check_bank_named,
    check_bank_in_consent,
    check_api_user_accredited_and_active,
    check_bank_accredited_and_active,
    check_api_published,
    check_api_user_subscribed,
    check_account_id_well_formed,
    check_query_well_formed,
)


def run_checks(call: ProxyCall, pipeline: tuple[Check, ...] = PIPELINE) -> None:
    """Apply every check in order; the first refusal stops the call."""
    for check in pipeline:
        check(call)
