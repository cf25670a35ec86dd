"""OAuth 2.0 Rich Authorization Requests (RFC 9396).

``authorization_details`` is a JSON array of objects, each with a ``type``
(§2). Senim knows the types registered here; an unknown type, a malformed
object or a missing required field is refused with
``invalid_authorization_details`` (§5). The details travel from the pushed
request to the grant and into the access token (§7, §9.1). A request carries
at most one ``account_information`` detail: the grant it makes is tied to
that one consent.

Other packages add what a type means (the consents package checks that the
consent exists, belongs to the client and awaits authorisation) by
registering a validator.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from idp.errors import InvalidAuthorizationDetails

ACCOUNT_INFORMATION = "account_information"
MAX_DETAILS = 10
#: Types a request may carry once: a grant is tied to one consent (idp.consents.binding).
ONCE_PER_REQUEST = frozenset({ACCOUNT_INFORMATION})

#: type -> validator(detail, client) raising InvalidAuthorizationDetails
Validator = Callable[[dict, object], None]


#: §2.2: common data fields and their types.
_STRING_ARRAY_FIELDS = ("locations", "actions", "datatypes", "privileges")


def _check_common_fields(detail: dict) -> None:
    for name in _STRING_ARRAY_FIELDS:
        value = detail.get(name)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 256 for v in value)
        ):
            raise InvalidAuthorizationDetails(f"{name} must be an array of strings.")
    identifier = detail.get("identifier")
    if identifier is not None and (not isinstance(identifier, str) or len(identifier) > 256):
        raise InvalidAuthorizationDetails("identifier must be a string.")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _validate_account_information(detail: dict, client: object) -> None:
    consent_id = detail.get("consent_id")
    if not isinstance(consent_id, str) or not 1 <= len(consent_id) <= 64:
        raise InvalidAuthorizationDetails(
            "account_information needs a 'consent_id' string (1 to 64 characters)."
        )
    allowed = {"type", "consent_id", "locations", "actions", "datatypes", "identifier", "privileges"}
    unknown = sorted(set(detail) - allowed)
    if unknown:
        raise InvalidAuthorizationDetails(f"Unknown field in account_information: {unknown[0]}.")


_VALIDATORS: dict[str, list[Validator]] = {ACCOUNT_INFORMATION: [_validate_account_information]}


def register_validator(detail_type: str, validator: Validator) -> None:
    """Add a rule for a type (several rules run in registration order; adding one twice changes nothing)."""
    rules = _VALIDATORS.setdefault(detail_type, [])
    if validator not in rules:
        rules.append(validator)


def supported_types() -> list[str]:
    return sorted(_VALIDATORS)


def check_types_once_per_request(details: list[dict]) -> None:
    """One ``account_information`` detail a request: the grant it makes names one consent."""
    for detail_type in ONCE_PER_REQUEST:
        if sum(1 for detail in details if detail["type"] == detail_type) > 1:
            raise InvalidAuthorizationDetails(
                f"Only one {detail_type} detail is allowed in a request: a grant is tied to one consent."
            )


def parse_authorization_details(raw: str | list | None, client: object) -> list[dict] | None:
    """Parse and check ``authorization_details`` as sent (form string or JSON)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            details = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise InvalidAuthorizationDetails("authorization_details is not valid JSON.") from None
    else:
        details = raw
    if not isinstance(details, list) or not details:
        raise InvalidAuthorizationDetails("authorization_details must be a non-empty JSON array.")
    if len(details) > MAX_DETAILS:
        raise InvalidAuthorizationDetails(f"At most {MAX_DETAILS} authorization_details are allowed.")
    if not all(isinstance(detail, dict) and isinstance(detail.get("type"), str) for detail in details):
        raise InvalidAuthorizationDetails("Each authorization detail must be an object with a 'type'.")
    check_types_once_per_request(details)
    for detail in details:
        validators = _VALIDATORS.get(detail["type"])
        if validators is None:
            raise InvalidAuthorizationDetails(
                f"Unsupported authorization_details type: {detail['type'][:40]}."
            )
        _check_common_fields(detail)
        for validate in validators:
            validate(detail, client)
    return details
