"""Grants tied to a consent: usable only while the consent is in force.

A grant made at a consent step names its consent (``Authorization.consent_id``,
from the ``account_information`` detail the customer approved; RFC 9396 §7).
Every use of such a grant — the code exchange, a refresh, a call with one of
its access tokens, the introspection of its tokens — asks
``consent_in_force`` first, from the database and never from what a token
says. Checks, in order (one function each):

| # | check                     | the consent …                                            |
|---|---------------------------|----------------------------------------------------------|
| 1 | check_consent_exists      | is in the register                                       |
| 2 | settle (lifecycle)        | has had time applied: past its expiry it is Expired      |
| 3 | check_consent_authorised  | is Authorised (not awaiting, rejected, revoked, expired) |
| 4 | check_consent_not_expired | has not reached its ExpirationDateTime                   |
| 5 | check_api_user_active     | belongs to an API user that is an active participant     |
| 6 | check_same_customer       | was authorised by the customer the grant is for          |

Any refusal is ``idp.errors.ConsentNotInForce`` (``invalid_grant`` at the
token endpoint; resources and introspection turn it into an invalid,
inactive token). Grants without a consent never come here, so they pay
nothing for it.

Tokens never outlive the consent (``capped_by_consent``), and each use is
noted in ``consents.last_used_at`` (``record_use``) for the customer's
cabinet.
"""

from __future__ import annotations

import hmac

from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value

from idp.consents.lifecycle import settle
from idp.consents.models import AUTHORISED, Consent
from idp.customer_login import customer_subject
from idp.errors import ConsentNotInForce
from idp.rfc9396_authorization_details import ACCOUNT_INFORMATION
from registry.participants import API_USER, ParticipantError, require_active
from senim import clock
from senim.database import core, db

#: ``last_used_at`` is written at most this often per consent by calls with a token.
USE_RECORD_INTERVAL = 60

_CONSENTS = Consent.__table__


def granted_consent_id(authorization_details: list[dict] | None) -> str | None:
    """The consent named by the granted ``account_information`` detail, if any.

    A request names at most one (``idp.rfc9396_authorization_details``), so a
    grant is tied to at most one consent.
    """
    for detail in authorization_details or []:
        if isinstance(detail, dict) and detail.get("type") == ACCOUNT_INFORMATION:
            return detail.get("consent_id")
    return None


# -- the checks -------------------------------------------------------------------------------
def check_consent_exists(consent_id: str) -> Consent:
    # Read afresh: a revocation committed by another request counts at once.
    consent = db.session.get(Consent, consent_id, populate_existing=True)
    if consent is None:
        raise ConsentNotInForce("The consent behind this grant does not exist.")
    return consent


def check_consent_authorised(consent: Consent) -> None:
    if consent.status != AUTHORISED:
        raise ConsentNotInForce(f"The consent behind this grant is {consent.status}, not Authorised.")


def check_consent_not_expired(consent: Consent) -> None:
    # settle() has normally made it Expired already; this holds even if it could not.
    if consent.expires_at <= clock.now_int():
        raise ConsentNotInForce("The consent behind this grant has expired.")


def check_api_user_active(consent: Consent) -> None:
    if consent.participant_id is None:  # a client registered before the registry knew participants
        return
    try:
        require_active(consent.participant_id, API_USER)
    except ParticipantError:
        raise ConsentNotInForce("The API user of this consent is not an active participant.") from None


def check_same_customer(consent: Consent, subject: str | None) -> None:
    # A consent authorised by customer A never serves a grant of customer B.
    refusal = ConsentNotInForce("The consent was authorised by another customer than this grant's.")
    if consent.customer_iin is None or not subject:
        raise refusal
    server_secret = current_app.extensions["senim.keyring"].server_secret
    expected = customer_subject(server_secret, consent.customer_iin)
    if not hmac.compare_digest(expected.encode(), subject.encode()):
        raise refusal


def consent_in_force(consent_id: str, subject: str | None) -> Consent:
    """The consent behind a grant of ``subject``, if the grant may still be used now.

    Otherwise ``ConsentNotInForce`` saying why. May commit: ``settle`` records
    what time has done to the consent (it became Expired) at once.
    """
    consent = check_consent_exists(consent_id)
    settle(consent)
    check_consent_authorised(consent)
    check_consent_not_expired(consent)
    check_api_user_active(consent)
    check_same_customer(consent, subject)
    return consent


# -- what follows from it ------------------------------------------------------------------------
def capped_by_consent(expires_at: int, consent: Consent | None) -> int:
    """A token's expiry, never past its consent's."""
    return expires_at if consent is None else min(expires_at, consent.expires_at)


def record_use(consent: Consent, *, at_most_every: int = USE_RECORD_INTERVAL) -> None:
    """Note that the API user used the consent now (the cabinet's "last used").

    Written in the caller's transaction, and only if the last note is older
    than ``at_most_every`` seconds: calls with a token cost one write a
    minute per consent, not one each. A plain UPDATE of that column only, so
    it never collides with a status change (the row's version is not
    touched), and its condition keeps parallel requests from writing twice.
    """
    now = clock.now_int()
    last = consent.last_used_at
    if last is not None and now - last < at_most_every:
        return
    core(
        update(_CONSENTS)
        .where(
            _CONSENTS.c.id == consent.id,
            or_(_CONSENTS.c.last_used_at.is_(None), _CONSENTS.c.last_used_at <= now - at_most_every),
        )
        .values(last_used_at=now)
    )
    set_committed_value(consent, "last_used_at", now)
