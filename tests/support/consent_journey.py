"""The account-information journey as tests drive it: the API user creates a
consent, pushes it, the customer logs in with both factors and approves it,
the API user exchanges the code; then what the API user does with the tokens.

``approve_at_consent_step`` is the short way for tests of the code flow
itself: what the consent step does once the customer has approved, through
the service layer, without the login pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Flask, current_app
from joserfc import jwt

from idp.authorize import complete_interaction, pending_interaction
from idp.consents.service import decide_by_customer
from idp.customer_login import customer_subject
from idp.rfc9396_authorization_details import ACCOUNT_INFORMATION
from registry.participants import API_PROVIDER, list_participants
from tests.support.api_user import ApiUser
from tests.support.consents import add_banks, consent_body
from tests.support.customer import OBAMA_IIN, OBAMA_PHONE, Customer, csrf_token, put_on_record
from tests.support.flow import browser_secret, query


@dataclass
class ConsentTokens:
    consent_id: str
    tokens: dict

    @property
    def access_token(self) -> str:
        return self.tokens["access_token"]

    @property
    def refresh_token(self) -> str:
        return self.tokens["refresh_token"]


def details_naming(*consent_ids: str) -> str:
    """``authorization_details`` with one ``account_information`` detail per consent."""
    return json.dumps([{"type": ACCOUNT_INFORMATION, "consent_id": c} for c in consent_ids])


def customer_at(app: Flask, api_user: ApiUser) -> Customer:
    """A customer whose browser is the API user's test client (English pages)."""
    put_on_record(app)
    api_user.http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return Customer(api_user)


def banks_on_record() -> list[str]:
    """The test banks (API providers), added on first use."""
    banks = [p.id for p in list_participants() if API_PROVIDER in p.roles]
    return banks or add_banks(2)


def create_consent(api_user: ApiUser, now: float, banks: list[str] | None = None, **data: object) -> str:
    """``POST /consents`` for ``banks`` (the test banks by default); the new consent's id."""
    body = consent_body(now, banks if banks is not None else banks_on_record(), **data)
    created = api_user.call("POST", "/consents", api_user.consents_token(), json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["Data"]["ConsentId"]


def end_consent(api_user: ApiUser, consent_id: str) -> None:
    """``DELETE /consents/{id}``: the API user ends its consent."""
    answer = api_user.call("DELETE", f"/consents/{consent_id}", api_user.consents_token())
    assert answer.status_code == 204, answer.get_data(as_text=True)


def approved_code(
    customer: Customer, consent_id: str, iin: str = OBAMA_IIN, phone: str = OBAMA_PHONE, who: str = "obama"
) -> str:
    """The consent pushed, the customer logged in (face, SMS code) and approving; the code."""
    customer.arrive(authorization_details=details_naming(consent_id))
    customer.log_in(iin, phone, who)
    decided = customer.decide("approve")
    assert decided.status_code == 303, decided.get_data(as_text=True)
    params = query(customer.http.get(decided.headers["Location"]).headers["Location"])
    assert "code" in params, params
    return params["code"]


def ask_consent(customer: Customer, now: float, banks: list[str] | None = None, **data: object) -> str:
    """The API user asks for a consent and sends the customer's browser to authorise it; its id."""
    consent_id = create_consent(customer.api_user, now, banks, **data)
    customer.arrive(authorization_details=details_naming(consent_id))
    return consent_id


def authorised_consent(customer: Customer, now: float, **login: str) -> tuple[str, str]:
    """A consent the customer authorised on the consent screen: its id and the app's authorization code."""
    consent_id = create_consent(customer.api_user, now)
    return consent_id, approved_code(customer, consent_id, **login)


def sign_in_to_cabinet(customer: Customer, clock, **login: str) -> Customer:
    """The same browser, signed in to its cabinet (a minute on: the phone may get a new SMS code)."""
    clock.advance(61)
    cabinet = Customer(customer.api_user)
    cabinet.open_cabinet()
    cabinet.log_in(**login)
    return cabinet


def withdraw_in_cabinet(cabinet: Customer, consent_id: str):
    """Withdraw on the cabinet's pages: the confirmation page, then its form."""
    page = cabinet.http.get(f"/cabinet/consents/{consent_id}/withdraw")
    assert page.status_code == 200, page.status_code
    return cabinet.http.post(
        f"/cabinet/consents/{consent_id}/withdraw",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )


def consent_tokens(customer: Customer, now: float, **data: object) -> ConsentTokens:
    """The whole journey; the consent and the tokens the API user got for it."""
    consent_id = create_consent(customer.api_user, now, **data)
    answer = customer.api_user.exchange(approved_code(customer, consent_id))
    assert answer.status_code == 200, answer.get_json()
    return ConsentTokens(consent_id, answer.get_json())


def introspect(api_user: ApiUser, token: str, **extra: str) -> dict:
    answer = api_user.http.post("/introspect", data={"token": token, **extra, **api_user.client_auth()})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def userinfo(api_user: ApiUser, token: str):
    """A call to a protected resource with the access token and its DPoP proof."""
    return api_user.call("GET", "/userinfo", token)


def access_claims(app: Flask, token: str) -> dict:
    keyset = app.extensions["senim.keyring"].verification_keyset()
    return jwt.decode(token, keyset, algorithms=["ES256", "PS256"]).claims


def subject_of(iin: str) -> str:
    """The customer's ``sub`` as the platform derives it."""
    return customer_subject(current_app.extensions["senim.keyring"].server_secret, iin)


def approve_at_consent_step(api_user: ApiUser, interaction_id: str, iin: str = OBAMA_IIN) -> str:
    """What the consent step does once the customer passed both factors and approved
    (service layer, no pages): every named consent authorised for ``iin``. The subject."""
    secret = browser_secret(api_user)
    interaction, params = pending_interaction(interaction_id, secret)
    granted = [
        decide_by_customer(detail, interaction.client_id, iin, approve=True)
        if detail["type"] == ACCOUNT_INFORMATION
        else detail
        for detail in params.get("authorization_details") or []
    ]
    subject = subject_of(iin)
    complete_interaction(
        interaction_id,
        secret,
        subject=subject,
        approved=True,
        acr="urn:senim:loa:2fa",
        amr=["face", "sms"],
        authorization_details=granted or None,
    )
    return subject
