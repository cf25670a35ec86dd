"""A consent from the app's request to its withdrawal, in headless Chromium.

The app asks for a consent at two banks and pushes its authorization request
naming it; the customer signs in (identify, face, SMS code), leaves one bank
out on the consent screen and approves; the app's token names the consent
with the bank kept. Then, in the same browser, the customer signs in to the
cabinet with both factors again and withdraws the consent.

The browser, its fake camera and the steps are in ``tests/interop/browser.py``;
screenshots land in ``test-artifacts/browser/journey-*.png``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from idp.consents.lifecycle import history
from idp.consents.models import Consent
from idp.otp import RESEND_AFTER
from senim.database import db
from tests.interop.browser import enter_code, identify, needs_chromium, pass_face, shot
from tests.interop.conftest import REDIRECT_URI, LiveServer
from tests.support.api_user import ApiUser
from tests.support.consents import add_banks, consent_body
from tests.support.flow import query

pytestmark = needs_chromium

PURPOSE = "Show all your accounts in one budget app"  # consent_body's


@pytest.fixture
def banks(live_server: LiveServer) -> list[str]:
    """Two banks on record ("Bank 1", "Bank 2")."""
    with live_server.app.app_context():
        return add_banks(2)


def _ask_consent(app_user: ApiUser, banks: list[str]) -> str:
    """POST /consents with the app's client-credentials token; the consent's id."""
    body = consent_body(app_user.now(), banks)
    created = app_user.call("POST", "/consents", app_user.consents_token(), json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["Data"]["ConsentId"]


def _authorize(live: LiveServer, app_user: ApiUser, page, consent_id: str) -> None:
    """The app pushes its request naming the consent and sends the browser to /authorize."""
    details = [{"type": "account_information", "consent_id": consent_id}]
    pushed = app_user.par(
        redirect_uri=REDIRECT_URI, state="journey-state", authorization_details=json.dumps(details)
    )
    assert pushed.status_code == 201, pushed.get_json()
    request_uri = pushed.get_json()["request_uri"]
    page.goto(f"{live.issuer}/authorize?client_id={app_user.client_id}&request_uri={request_uri}")
    page.wait_for_url(re.compile(r".*/interaction/[^/]+/identify$"))


def _stored(live: LiveServer, consent_id: str) -> tuple[str, list]:
    with live.app.app_context():
        status = db.session.get(Consent, consent_id).status
        changes = [(c.actor, c.reason, c.to_status) for c in history(consent_id)]
        db.session.remove()
    return status, changes


def test_the_customer_gives_a_consent_at_one_bank_of_two_and_withdraws_it_in_the_cabinet(
    live_server: LiveServer, app_user: ApiUser, banks: list[str], page, camera_file: Path
) -> None:
    issuer = live_server.issuer
    consent_id = _ask_consent(app_user, banks)

    # -- the consent screen -----------------------------------------------------------
    _authorize(live_server, app_user, page, consent_id)
    identify(page)
    pass_face(page, camera_file, seed=21)
    enter_code(page, live_server)
    page.wait_for_url(re.compile(r".*/interaction/[^/]+/consent$"))
    assert page.locator("h1").inner_text() == "Demo Wallet asks for your consent"
    screen = page.locator("section.consent")
    assert screen.locator(".who strong").inner_text() == "Demo Wallet"
    assert "See how much money is on your accounts" in screen.locator("ul.permissions").inner_text()
    assert [name.strip() for name in screen.locator("ul.banks li").all_inner_texts()] == ["Bank 1", "Bank 2"]
    assert screen.locator(".purpose").inner_text() == PURPOSE
    boxes = {bank: page.locator(f'input[name="keep-{consent_id}"][value="{bank}"]') for bank in banks}
    assert all(box.is_checked() for box in boxes.values())
    boxes[banks[1]].uncheck()
    shot(page, "journey-1-consent-screen")
    page.get_by_role("button", name="Approve").click()

    # -- back at the app, which gets the consent at the bank kept -----------------------
    page.wait_for_url(f"{REDIRECT_URI}**")
    params = query(page.url)
    assert params["state"] == "journey-state" and params["iss"] == issuer
    tokens = app_user.exchange(params["code"], redirect_uri=REDIRECT_URI)
    assert tokens.status_code == 200, tokens.get_json()
    [detail] = tokens.get_json()["authorization_details"]
    assert detail["type"] == "account_information" and detail["consent_id"] == consent_id
    assert detail["provider_ids"] == [banks[0]]

    # -- the cabinet, in the same browser ------------------------------------------------
    # A new SMS code goes to the same phone only a minute after the last one.
    live_server.clock.advance(RESEND_AFTER + 1)
    page.goto(f"{issuer}/cabinet")
    assert page.locator("h1").inner_text() == "Your Senim cabinet"
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/cabinet/sign-in/[^/]+/identify$"))
    identify(page)
    pass_face(page, camera_file, seed=22)  # a new challenge, new pictures: never a replay
    enter_code(page, live_server)
    page.wait_for_url(f"{issuer}/cabinet")
    listed = page.locator(f'li[data-consent-id="{consent_id}"]')
    assert listed.locator(".who strong").inner_text() == "Demo Wallet"
    assert listed.locator(".status").inner_text() == "In force"
    assert "Bank 1" in listed.inner_text() and "Bank 2" not in listed.inner_text()
    shot(page, "journey-2-cabinet")

    listed.get_by_role("link", name="Details and history").click()
    page.wait_for_url(f"{issuer}/cabinet/consents/{consent_id}")
    assert "You gave the consent" in page.locator("ol.history").inner_text()
    page.get_by_role("link", name="Withdraw this consent").click()
    page.wait_for_url(f"{issuer}/cabinet/consents/{consent_id}/withdraw")
    assert page.locator("h1").inner_text() == "Withdraw your consent to Demo Wallet?"
    shot(page, "journey-3-withdraw-confirmation")
    assert _stored(live_server, consent_id)[0] == "Authorised"  # asking changes nothing

    page.get_by_role("button", name="Yes, withdraw").click()
    page.wait_for_url(f"{issuer}/cabinet/consents/{consent_id}?withdrawn=1")
    assert "The consent is withdrawn" in page.get_by_role("status").inner_text()
    assert page.locator("section.consent .status").inner_text() == "Withdrawn"
    assert "You withdrew the consent" in page.locator("ol.history").inner_text()
    assert page.get_by_role("link", name="Withdraw this consent").count() == 0
    shot(page, "journey-4-withdrawn")

    status, changes = _stored(live_server, consent_id)
    assert status == "Revoked"
    assert changes[-1] == ("customer", "CUSTOMER_REVOKED", "Revoked")
