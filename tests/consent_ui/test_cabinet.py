"""The customer's cabinet: signing in with the two factors, the consents, withdrawal, the receipt."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.cabinet import CABINET_COOKIE, SESSION_TTL
from idp.consents.lifecycle import history
from idp.consents.models import Consent
from senim.database import db
from tests.support.api_user import ApiUser
from tests.support.consent_journey import (
    authorised_consent,
    customer_at,
    sign_in_to_cabinet,
    withdraw_in_cabinet,
)
from tests.support.customer import BIDEN_IIN, BIDEN_PHONE, OBAMA_IIN, Customer, csrf_token


@pytest.fixture
def customer(app, api_user) -> Customer:
    return customer_at(app, api_user)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _consent(consent_id: str) -> Consent:
    db.session.expire_all()
    return db.session.get(Consent, consent_id)


def _other_browser(app, clock) -> Customer:
    http: FlaskClient = app.test_client()
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return Customer(ApiUser(http=http, client_id="app-1", key=None, now=clock.now))


def test_the_door_offers_to_sign_in_and_the_sign_in_takes_both_factors(customer) -> None:
    door = customer.http.get("/cabinet")
    assert door.status_code == 200
    assert "Your Senim cabinet" in _text(door)
    first_step = customer.open_cabinet()
    assert first_step.startswith("/cabinet/sign-in/") and first_step.endswith("/identify")
    # the consents are behind both factors: identify and face are not enough
    assert customer.identify(OBAMA_IIN).status_code == 303
    assert customer.http.get("/cabinet").headers["Location"].endswith("/face")
    customer.pass_face()
    assert customer.http.get("/cabinet").headers["Location"].endswith("/otp")
    assert customer.http.get("/cabinet/consents/anything").headers["Location"].endswith("/cabinet")


def test_the_cabinet_lists_the_customers_consents(customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    page = _text(cabinet.http.get("/cabinet"))
    assert f'data-consent-id="{consent_id}"' in page
    assert "Test app" in page and "Bank 1, Bank 2" in page
    assert "In force" in page
    assert "See how much money is on your accounts" in page
    assert "Not yet" in page or "Last used" in page


def test_a_consent_shows_its_details_and_history(customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    page = _text(cabinet.http.get(f"/cabinet/consents/{consent_id}"))
    assert "Show all your accounts in one budget app" in page
    assert "The app asked for the consent" in page and "You gave the consent" in page
    assert consent_id in page


def test_withdrawal_asks_first_and_then_takes_effect_at_once(customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    confirm = cabinet.http.get(f"/cabinet/consents/{consent_id}/withdraw")
    assert "Withdraw your consent to Test app?" in _text(confirm)
    assert _consent(consent_id).status == "Authorised"  # asking changes nothing
    done = withdraw_in_cabinet(cabinet, consent_id)
    assert done.status_code == 303
    assert _consent(consent_id).status == "Revoked"
    last = history(consent_id)[-1]
    assert (last.actor, last.reason, last.to_status) == ("customer", "CUSTOMER_REVOKED", "Revoked")
    shown = _text(cabinet.http.get(done.headers["Location"]))
    assert "The consent is withdrawn" in shown and "Withdrawn" in shown
    assert "Withdraw this consent" not in shown


def test_withdrawing_twice_is_harmless(customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    page = cabinet.http.get(f"/cabinet/consents/{consent_id}/withdraw")
    token = csrf_token(_text(page))
    first = cabinet.http.post(f"/cabinet/consents/{consent_id}/withdraw", data={"csrf_token": token})
    second = cabinet.http.post(f"/cabinet/consents/{consent_id}/withdraw", data={"csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert "withdrawn=1" in first.headers["Location"] and "withdrawn" not in second.headers["Location"]
    revocations = [c for c in history(consent_id) if c.reason == "CUSTOMER_REVOKED"]
    assert len(revocations) == 1
    assert _consent(consent_id).status == "Revoked"


def test_another_customer_cannot_see_or_withdraw_the_consent(app, customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    clock.advance(61)
    other = _other_browser(app, clock)
    other.open_cabinet()
    other.log_in(BIDEN_IIN, BIDEN_PHONE, who="biden")
    assert f'data-consent-id="{consent_id}"' not in _text(other.http.get("/cabinet"))
    for path in (f"/cabinet/consents/{consent_id}", f"/cabinet/consents/{consent_id}/withdraw"):
        refused = other.http.get(path)
        assert refused.status_code == 404
        assert "You have no consent with this number" in _text(refused)
    door = other.http.get("/cabinet")
    forged = other.http.post(
        f"/cabinet/consents/{consent_id}/withdraw", data={"csrf_token": csrf_token(_text(door))}
    )
    assert forged.status_code == 404
    assert receipt_status(other, consent_id) == 404
    assert _consent(consent_id).status == "Authorised"
    assert [c.reason for c in history(consent_id)] == ["API_USER_CREATED", "CUSTOMER_AUTHORISED"]


def receipt_status(customer: Customer, consent_id: str) -> int:
    return customer.http.get(f"/cabinet/consents/{consent_id}/receipt").status_code


def test_withdrawal_needs_the_forms_csrf_token(customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    forged = cabinet.http.post(f"/cabinet/consents/{consent_id}/withdraw")
    assert forged.status_code == 400
    assert _consent(consent_id).status == "Authorised"


def test_the_receipt_is_signed_json_naming_what_was_consented(app, customer, clock) -> None:
    consent_id, _code = authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    answer = cabinet.http.get(f"/cabinet/consents/{consent_id}/receipt")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert "attachment" in answer.headers["Content-Disposition"]
    document = json.loads(answer.get_data(as_text=True))
    receipt = document["receipt"]
    assert receipt["consent_id"] == consent_id and receipt["status"] == "Authorised"
    assert receipt["customer"]["iin"] == "9001******17"  # never the whole IIN
    assert OBAMA_IIN not in answer.get_data(as_text=True)
    assert [b["name"] for b in receipt["banks"]] == ["Bank 1", "Bank 2"]
    assert [h["reason"] for h in receipt["history"]] == ["API_USER_CREATED", "CUSTOMER_AUTHORISED"]
    keys = KeySet.import_key_set(cabinet.http.get("/jwks").get_json())
    verified = jwt.decode(document["signed"], keys, algorithms=["ES256", "PS256"])
    assert verified.header["typ"] == "consent-receipt+jwt"
    assert verified.claims == receipt


def test_the_session_belongs_to_the_browser_that_started_it(app, customer, clock) -> None:
    customer.open_cabinet()
    other = _other_browser(app, clock)
    stolen = other.http.get(customer.url("identify"))
    assert stolen.status_code == 303 and stolen.headers["Location"].endswith("/cabinet")
    assert other.http.get("/cabinet").status_code == 200  # the door, not the consents


def test_signing_out_and_time_end_the_session(customer, clock) -> None:
    authorised_consent(customer, clock.now())
    cabinet = sign_in_to_cabinet(customer, clock)
    page = cabinet.http.get("/cabinet")
    assert "Sign out" in _text(page)
    cabinet.http.post("/cabinet/sign-out", data={"csrf_token": csrf_token(_text(page))})
    assert "Your Senim cabinet" in _text(cabinet.http.get("/cabinet"))

    again = sign_in_to_cabinet(customer, clock)
    assert "In force" in _text(again.http.get("/cabinet"))
    clock.advance(SESSION_TTL + 1)
    assert "Your Senim cabinet" in _text(again.http.get("/cabinet"))


def test_the_session_cookie_is_for_the_cabinet_only_and_hidden_from_scripts(customer) -> None:
    door = customer.http.get("/cabinet")
    started = customer.http.post("/cabinet/sign-in", data={"csrf_token": csrf_token(_text(door))})
    cookie = started.headers["Set-Cookie"]
    assert cookie.startswith(f"{CABINET_COOKIE}=")
    assert "HttpOnly" in cookie and "Path=/cabinet" in cookie and "SameSite=Lax" in cookie


def test_the_cabinet_is_never_framed(customer) -> None:
    door = customer.http.get("/cabinet")
    assert "frame-ancestors 'none'" in door.headers["Content-Security-Policy"]
    assert door.headers["Cache-Control"] == "no-store"


def test_a_session_whose_factors_no_longer_hold_is_over(customer, clock) -> None:
    from idp.cabinet import CabinetSession
    from idp.customer_login import CustomerLogin

    cabinet = sign_in_to_cabinet(customer, clock)
    session_id = cabinet.base.rsplit("/", 1)[-1]
    login = db.session.get(CustomerLogin, f"cabinet:{session_id}")
    login.otp_challenge_id = "not-the-code-taken"  # as if the login row were tampered with
    db.session.commit()
    assert "Your Senim cabinet" in _text(cabinet.http.get("/cabinet"))  # the door, not a loop
    db.session.expire_all()
    assert db.session.get(CabinetSession, session_id).ended_at is not None
    assert cabinet.http.get("/cabinet/consents/x").headers["Location"].endswith("/cabinet")
