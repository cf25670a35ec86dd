"""RFC 9396 ``account_information`` details name a consent: it must be this client's, awaiting authorisation.

Checked when the request is pushed (PAR) and again when the customer's
browser arrives at ``/authorize`` — the API user may have ended the consent,
or the hour to authorise it may have passed, in between.
"""

from __future__ import annotations

from idp.consents.lifecycle import settle
from idp.consents.models import AWAITING_AUTHORISATION, Consent
from idp.errors import InvalidAuthorizationDetails
from senim.database import db


def check_consent_awaits_this_client(detail: dict, client: object) -> None:
    consent = db.session.get(Consent, detail["consent_id"])
    if consent is None or consent.client_id != getattr(client, "client_id", None):
        raise InvalidAuthorizationDetails("The consent does not exist or is not this client's.")
    settle(consent)
    if consent.status != AWAITING_AUTHORISATION:
        raise InvalidAuthorizationDetails(f"The consent is {consent.status}, not AwaitingAuthorisation.")
