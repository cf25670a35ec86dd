"""Consents as the API user sees them: create, read, end; and as the consent step decides them.

A consent request is checked field by field and refused with every problem
found (``ApiError`` with one ``FieldError`` per field); nothing is written
unless all is right. ``x-idempotency-key`` makes a retried create return the
consent the first attempt made.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.consents import errors as E
from idp.consents.lifecycle import change_status, record_creation, settle
from idp.consents.models import AUTHORISED, AWAITING_AUTHORISATION, REJECTED, REVOKED, Consent
from registry.participants import API_USER, ParticipantError, active_providers, require_active
from senim import clock
from senim.audit import audit
from senim.database import db

PERMISSIONS = (
    "ReadAccountsBasic",
    "ReadAccountsDetail",
    "ReadBalances",
    "ReadTransactionsBasic",
    "ReadTransactionsDetail",
    "ReadTransactionsCredits",
    "ReadTransactionsDebits",
)
#: Credits/Debits narrow a transactions permission; alone they grant nothing.
_TRANSACTION_FILTERS = {"ReadTransactionsCredits", "ReadTransactionsDebits"}
_TRANSACTION_READS = {"ReadTransactionsBasic", "ReadTransactionsDetail"}
MAX_LIFETIME = 180 * 24 * 3600
MAX_PROVIDERS = 10
MAX_PURPOSE = 500
_DATA_FIELDS = {
    "Permissions",
    "ExpirationDateTime",
    "TransactionFromDateTime",
    "TransactionToDateTime",
    "ProviderIds",
    "Purpose",
}
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class ConsentRequest:
    permissions: list[str]
    provider_ids: list[str]
    purpose: str
    expires_at: int
    transaction_from: int | None
    transaction_to: int | None


def _timestamp(value: object, path: str, problems: list[E.FieldError]) -> int | None:
    if not isinstance(value, str) or len(value) > 40:
        problems.append(E.FieldError(E.FIELD_INVALID_DATE, "An ISO 8601 date-time with a time zone.", path))
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        problems.append(
            E.FieldError(
                E.FIELD_INVALID_DATE,
                "An ISO 8601 date-time with a time zone, e.g. 2027-05-01T00:00:00+05:00.",
                path,
            )
        )
        return None
    return int(parsed.timestamp())


def parse_consent_request(body: object) -> ConsentRequest:
    """The consent asked for, or ``ApiError`` listing every problem."""
    if not isinstance(body, dict) or not isinstance(body.get("Data"), dict):
        raise E.ApiError(
            400,
            "The body must be a JSON object with a Data object.",
            [E.FieldError(E.FIELD_MISSING, "Required.", "Data")],
        )
    data = body["Data"]
    problems: list[E.FieldError] = []
    for name in sorted(set(data) - _DATA_FIELDS):
        problems.append(
            E.FieldError(E.FIELD_UNEXPECTED, "Not a field of a consent request.", f"Data.{name[:40]}")
        )

    permissions = data.get("Permissions")
    if permissions is None:
        problems.append(
            E.FieldError(E.FIELD_MISSING, "Required: the permissions asked for.", "Data.Permissions")
        )
        permissions = []
    elif not isinstance(permissions, list) or not permissions:
        problems.append(
            E.FieldError(E.FIELD_INVALID, "A non-empty array of permissions.", "Data.Permissions")
        )
        permissions = []
    else:
        for index, permission in enumerate(permissions):
            if permission not in PERMISSIONS:
                problems.append(
                    E.FieldError(
                        E.FIELD_INVALID,
                        f"Unknown permission; one of {', '.join(PERMISSIONS)}.",
                        f"Data.Permissions[{index}]",
                    )
                )
        if len(set(map(str, permissions))) != len(permissions):
            problems.append(
                E.FieldError(E.FIELD_INVALID, "A permission is listed twice.", "Data.Permissions")
            )
        chosen = set(p for p in permissions if isinstance(p, str))
        if chosen & _TRANSACTION_FILTERS and not chosen & _TRANSACTION_READS:
            problems.append(
                E.FieldError(
                    E.FIELD_INVALID,
                    "ReadTransactionsCredits/Debits need ReadTransactionsBasic or ReadTransactionsDetail.",
                    "Data.Permissions",
                )
            )

    now = clock.now_int()
    expires_at = None
    if "ExpirationDateTime" not in data:
        problems.append(
            E.FieldError(
                E.FIELD_MISSING, "Required: until when the consent may be used.", "Data.ExpirationDateTime"
            )
        )
    else:
        expires_at = _timestamp(data["ExpirationDateTime"], "Data.ExpirationDateTime", problems)
        if expires_at is not None and not now < expires_at <= now + MAX_LIFETIME:
            problems.append(
                E.FieldError(
                    E.FIELD_INVALID_DATE,
                    "Must be in the future and at most 180 days ahead.",
                    "Data.ExpirationDateTime",
                )
            )

    window = {}
    for name in ("TransactionFromDateTime", "TransactionToDateTime"):
        if data.get(name) is not None:
            window[name] = _timestamp(data[name], f"Data.{name}", problems)
    start, end = window.get("TransactionFromDateTime"), window.get("TransactionToDateTime")
    if start is not None and end is not None and start > end:
        problems.append(
            E.FieldError(
                E.FIELD_INVALID_DATE,
                "TransactionFromDateTime is after TransactionToDateTime.",
                "Data.TransactionFromDateTime",
            )
        )

    provider_ids = data.get("ProviderIds")
    if provider_ids is None:
        problems.append(
            E.FieldError(
                E.FIELD_MISSING, "Required: the banks (participant ids) asked for.", "Data.ProviderIds"
            )
        )
        provider_ids = []
    elif (
        not isinstance(provider_ids, list)
        or not 1 <= len(provider_ids) <= MAX_PROVIDERS
        or not all(isinstance(p, str) and 1 <= len(p) <= 36 for p in provider_ids)
    ):
        problems.append(
            E.FieldError(
                E.FIELD_INVALID, f"An array of 1 to {MAX_PROVIDERS} participant ids.", "Data.ProviderIds"
            )
        )
        provider_ids = []
    elif len(set(provider_ids)) != len(provider_ids):
        problems.append(E.FieldError(E.FIELD_INVALID, "A bank is listed twice.", "Data.ProviderIds"))
    else:
        try:
            active_providers(provider_ids)
        except ParticipantError as error:
            bad = provider_ids.index(error.participant_id) if error.participant_id in provider_ids else 0
            problems.append(E.FieldError(E.UNKNOWN_PARTICIPANT, str(error), f"Data.ProviderIds[{bad}]"))

    purpose = data.get("Purpose")
    if purpose is None:
        problems.append(
            E.FieldError(
                E.FIELD_MISSING,
                "Required: why the data is asked for (shown to the customer).",
                "Data.Purpose",
            )
        )
    elif not isinstance(purpose, str) or not 1 <= len(purpose.strip()) <= MAX_PURPOSE:
        problems.append(
            E.FieldError(E.FIELD_INVALID, f"Text of 1 to {MAX_PURPOSE} characters.", "Data.Purpose")
        )

    if problems:
        raise E.ApiError(400, "The consent request is not valid.", problems)
    return ConsentRequest(
        permissions=list(permissions),
        provider_ids=list(provider_ids),
        purpose=purpose.strip(),
        expires_at=expires_at,
        transaction_from=start,
        transaction_to=end,
    )


def check_api_user_active(participant_id: str | None) -> None:
    """An API user's participant that is blocked (or gone) may not ask for consents."""
    if participant_id is None:
        return
    try:
        require_active(participant_id, API_USER)
    except ParticipantError as error:
        raise E.ApiError(
            403, "The API user may not ask for consents.", [E.FieldError(E.PARTICIPANT_BLOCKED, str(error))]
        ) from None


def create_consent(
    client_id: str, participant_id: str | None, body: object, idempotency_key: str | None
) -> tuple[Consent, bool]:
    """A new consent awaiting authorisation, or the one an earlier attempt with this key made."""
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise E.ApiError(
            400,
            "x-idempotency-key is not valid.",
            [E.FieldError(E.HEADER_INVALID, "1 to 64 of A-Z a-z 0-9 . _ : -", "x-idempotency-key")],
        )
    request_hash = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    if idempotency_key is not None:
        earlier = _by_idempotency_key(client_id, idempotency_key, request_hash)
        if earlier is not None:
            return earlier, False
    check_api_user_active(participant_id)
    asked = parse_consent_request(body)
    now = clock.now_int()
    consent = Consent(
        id=str(uuid.uuid4()),
        client_id=client_id,
        participant_id=participant_id,
        permissions=asked.permissions,
        provider_ids=asked.provider_ids,
        purpose=asked.purpose,
        expires_at=asked.expires_at,
        transaction_from=asked.transaction_from,
        transaction_to=asked.transaction_to,
        status=AWAITING_AUTHORISATION,
        created_at=now,
        status_updated_at=now,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    db.session.add(consent)
    record_creation(consent, client_id)
    try:
        db.session.commit()
    except IntegrityError:  # the same key raced in from a parallel retry
        db.session.rollback()
        earlier = _by_idempotency_key(client_id, idempotency_key, request_hash) if idempotency_key else None
        if earlier is None:
            raise
        return earlier, False
    audit("consent.created", consent_id=consent.id, client_id=client_id, permissions=asked.permissions)
    return consent, True


def _by_idempotency_key(client_id: str, key: str, request_hash: str) -> Consent | None:
    earlier = db.session.scalar(
        select(Consent).where(Consent.client_id == client_id, Consent.idempotency_key == key)
    )
    if earlier is not None and earlier.request_hash != request_hash:
        raise E.ApiError(
            400,
            "This x-idempotency-key was used for another request.",
            [E.FieldError(E.HEADER_INVALID, "Reused with a different body.", "x-idempotency-key")],
        )
    return earlier


def consent_of_client(consent_id: str, client_id: str) -> Consent:
    """The client's own consent, settled; another API user's is "not found", never "forbidden"."""
    consent = (
        db.session.get(Consent, consent_id) if isinstance(consent_id, str) and len(consent_id) <= 36 else None
    )
    if consent is None or consent.client_id != client_id:
        raise E.ApiError(
            404,
            "No such consent.",
            [E.FieldError(E.RESOURCE_NOT_FOUND, "No consent of this API user has this id.")],
        )
    return settle(consent)


def end_by_api_user(consent: Consent, client_id: str) -> Consent:
    """The API user ends its consent: revoked if authorised, rejected if still awaiting; harmless when over."""
    target = {AUTHORISED: REVOKED, AWAITING_AUTHORISATION: REJECTED}.get(consent.status)
    if target is None:
        return consent
    change_status(consent, target, actor="api_user", actor_id=client_id, reason="API_USER_ENDED")
    db.session.commit()
    audit(
        "consent.status_changed",
        consent_id=consent.id,
        status=target,
        reason="API_USER_ENDED",
        actor="api_user",
    )
    return consent


def iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def consent_data(consent: Consent) -> dict:
    """The consent as the API shows it (``Data`` of the answer)."""
    data = {
        "ConsentId": consent.id,
        "Status": consent.status,
        "CreationDateTime": iso(consent.created_at),
        "StatusUpdateDateTime": iso(consent.status_updated_at),
        "Permissions": list(consent.permissions),
        "ProviderIds": list(consent.provider_ids),
        "Purpose": consent.purpose,
        "ExpirationDateTime": iso(consent.expires_at),
    }
    if consent.transaction_from is not None:
        data["TransactionFromDateTime"] = iso(consent.transaction_from)
    if consent.transaction_to is not None:
        data["TransactionToDateTime"] = iso(consent.transaction_to)
    if consent.authorised_provider_ids is not None:
        data["AuthorisedProviderIds"] = list(consent.authorised_provider_ids)
    return data


class ConsentNotAwaiting(Exception):
    """The consent named by the authorization request can no longer be decided."""


def decide_by_customer(
    detail: dict, client_id: str, iin: str, *, approve: bool, kept_provider_ids: list[str] | None = None
) -> dict:
    """The customer authorises (binding their IIN) or rejects the consent of an ``account_information`` detail.

    Not committed: the caller finishes the interaction in the same
    transaction, so the consent and the authorization code agree. Returns the
    granted detail (RFC 9396 §7: the consent with what was authorised).
    """
    consent = db.session.get(Consent, detail.get("consent_id", ""))
    if consent is None or consent.client_id != client_id:
        raise ConsentNotAwaiting("the consent is not this client's")
    settle(consent)
    if consent.status != AWAITING_AUTHORISATION:
        raise ConsentNotAwaiting(f"the consent is {consent.status}")
    if not approve:
        change_status(consent, REJECTED, actor="customer", reason="CUSTOMER_REJECTED")
        return dict(detail)
    kept = list(consent.provider_ids) if kept_provider_ids is None else kept_provider_ids
    if not kept or not set(kept) <= set(consent.provider_ids):
        raise ValueError("keep at least one of the banks the consent asks for")
    consent.customer_iin = iin  # from now on this consent is this customer's only
    consent.authorised_provider_ids = [p for p in consent.provider_ids if p in kept]
    change_status(consent, AUTHORISED, actor="customer", reason="CUSTOMER_AUTHORISED")
    return {
        **detail,
        "permissions": list(consent.permissions),
        "provider_ids": list(consent.authorised_provider_ids),
    }
