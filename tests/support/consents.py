"""Consents as tests ask for them: banks on record and a valid request body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from registry.participants import API_PROVIDER, add_participant
from tests.support.customer import Customer
from tests.support.flow import query

#: Valid BINs (check digit right, 5th digit 4: a legal entity).
BANK_BINS = ("990140000790", "990240000080", "990340000371")


def add_banks(count: int = 2) -> list[str]:
    """Active API providers; their participant ids."""
    return [
        add_participant(name=f"Bank {i + 1}", bin=BANK_BINS[i], roles=[API_PROVIDER]).id for i in range(count)
    ]


def iso_in(now: float, **delta: float) -> str:
    return (datetime.fromtimestamp(now, UTC) + timedelta(**delta)).isoformat()


def consent_body(now: float, banks: list[str], **data: object) -> dict:
    body = {
        "Permissions": ["ReadAccountsBasic", "ReadBalances"],
        "ExpirationDateTime": iso_in(now, days=90),
        "ProviderIds": list(banks),
        "Purpose": "Show all your accounts in one budget app",
    }
    body.update(data)
    return {"Data": {k: v for k, v in body.items() if v is not None}}


def ask_consent(customer: Customer, now: float, banks: list[str] | None = None, **data: object) -> str:
    """The API user asks for a consent and sends the customer's browser to authorise it; its id."""
    api_user = customer.api_user
    body = consent_body(now, banks if banks is not None else add_banks(2), **data)
    created = api_user.call("POST", "/consents", api_user.consents_token(), json=body)
    assert created.status_code == 201, created.get_json()
    consent_id = created.get_json()["Data"]["ConsentId"]
    customer.arrive(
        authorization_details=json.dumps([{"type": "account_information", "consent_id": consent_id}])
    )
    return consent_id


def authorised_consent(customer: Customer, now: float, **login: str) -> tuple[str, str]:
    """A consent the customer authorised on the consent screen: its id and the app's authorization code."""
    consent_id = ask_consent(customer, now)
    customer.log_in(**login)
    decided = customer.decide("approve")
    assert decided.status_code == 303, decided.get_data(as_text=True)
    back_to_app = customer.http.get(decided.headers["Location"])
    return consent_id, query(back_to_app.headers["Location"])["code"]
