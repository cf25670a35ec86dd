"""The consent screen: who asks, what in plain words, which banks (some may be left out), why, until when."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from idp.consents.models import Consent
from idp.models import Interaction
from senim.database import db
from tests.support.api_user import ApiUser, public_jwks
from tests.support.consent_journey import ask_consent, customer_at
from tests.support.consents import add_banks, iso_in
from tests.support.customer import Customer, put_on_record

CATALOGUES = Path(__file__).resolve().parents[2] / "consent_ui" / "translations"


@pytest.fixture
def customer(app, api_user) -> Customer:
    return customer_at(app, api_user)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _russian(text: str) -> str:
    from babel.messages.pofile import read_po

    with open(CATALOGUES / "ru" / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale="ru")[text].string


def _consent(consent_id: str) -> Consent:
    db.session.expire_all()
    return db.session.get(Consent, consent_id)


def test_the_screen_names_the_app_the_permissions_the_banks_the_purpose_and_the_dates(
    customer, clock
) -> None:
    banks = add_banks(2)
    ask_consent(
        customer,
        clock.now(),
        banks,
        Permissions=["ReadAccountsDetail", "ReadTransactionsBasic", "ReadTransactionsCredits"],
        ExpirationDateTime="2027-05-21T12:00:00+05:00",
        TransactionFromDateTime="2026-01-01T00:00:00+05:00",
        TransactionToDateTime="2026-10-31T00:00:00+05:00",
        Purpose="Budget: your spending by category",
    )
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent")))
    assert "Test app asks for your consent" in page
    assert '<span class="monogram" aria-hidden="true">TA</span>' in page
    assert "full number (IBAN)" in page
    assert "See your payments and transfers: date, amount and status" in page
    assert "Of the payments, only money coming in" in page
    assert "ReadAccountsDetail" not in page  # never the API's codes
    assert "Bank 1" in page and "Bank 2" in page
    assert "Budget: your spending by category" in page
    assert "May 21, 2027" in page
    assert "From January 1, 2026 to October 31, 2026" in page


def test_the_screen_shows_the_apps_logo_where_it_has_one(customer, clock) -> None:
    import io

    from PIL import Image

    from idp.clients import set_client_logo
    from idp.models import Client
    from senim.database import db

    image = io.BytesIO()
    Image.new("RGB", (32, 32), (11, 110, 79)).save(image, "PNG")
    client = db.session.scalar(db.select(Client).where(Client.client_id == customer.api_user.client_id))
    set_client_logo(client, image.getvalue())
    ask_consent(customer, clock.now(), add_banks(1))
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent")))
    assert f'<img class="monogram" src="/apps/{client.client_id}/logo.png"' in page
    assert 'class="monogram" aria-hidden="true"' not in page


def test_the_screen_speaks_the_customers_language(customer, clock) -> None:
    ask_consent(customer, clock.now(), ExpirationDateTime="2027-05-21T12:00:00+05:00")
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent") + "?lang=ru"))
    russian = _russian("See how much money is on your accounts")
    assert russian and html.escape(russian, quote=False) in page
    assert "21 мая 2027" in page
    assert "See how much money is on your accounts" not in page


def test_the_api_users_company_is_named_beside_its_app(app, http, clock) -> None:
    from idp.clients import register_client
    from registry.participants import API_USER, add_participant

    put_on_record(app)
    fintech = add_participant(name="Qarzhy Fintech LLP", bin="990440000464", roles=[API_USER])
    key = ECKey.generate_key("P-256")
    register_client(
        client_id="budget-app",
        name="Budget",
        jwks=public_jwks(key),
        redirect_uris=["https://app.example/cb"],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        participant_id=fintech.id,
    )
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    customer = Customer(ApiUser(http=http, client_id="budget-app", key=key, now=clock.now))
    ask_consent(customer, clock.now())
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent")))
    assert "<strong>Budget</strong>" in page
    assert "Qarzhy Fintech LLP" in page
    assert '<span class="monogram" aria-hidden="true">QF</span>' in page


def test_a_bank_left_out_is_not_in_the_consent_nor_in_the_token(customer, clock) -> None:
    banks = add_banks(3)
    consent_id = ask_consent(customer, clock.now(), banks)
    customer.log_in()
    decided = customer.decide("approve", keep={f"keep-{consent_id}": [banks[0], banks[2]]})
    assert decided.status_code == 303
    consent = _consent(consent_id)
    assert consent.status == "Authorised"
    assert consent.authorised_provider_ids == [banks[0], banks[2]]
    assert consent.provider_ids == banks  # what was asked stays on record
    code = re.search(r"code=([^&]+)", customer.http.get(decided.headers["Location"]).headers["Location"])
    [detail] = customer.api_user.exchange(code.group(1)).get_json()["authorization_details"]
    assert detail["provider_ids"] == [banks[0], banks[2]]


def test_approving_with_every_bank_left_out_is_refused_and_changes_nothing(customer, clock) -> None:
    consent_id = ask_consent(customer, clock.now())
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent")))
    answer = customer.form("consent", {"decision": "approve"}, page=page)
    assert answer.status_code == 400
    assert "Keep at least one bank" in _text(answer)
    assert _consent(consent_id).status == "AwaitingAuthorisation"
    assert db.session.get(Interaction, customer.interaction_id).completed_at is None


def test_a_bank_the_consent_does_not_ask_for_cannot_be_slipped_in(customer, clock) -> None:
    asked = add_banks(2)
    consent_id = ask_consent(customer, clock.now(), asked[:1])
    customer.log_in()
    answer = customer.decide("approve", keep={f"keep-{consent_id}": [asked[0], asked[1]]})
    assert answer.status_code == 400
    assert "Choose only among the banks listed" in _text(answer)
    consent = _consent(consent_id)
    assert consent.status == "AwaitingAuthorisation" and consent.authorised_provider_ids is None


def test_rejecting_needs_no_bank_and_gives_the_app_no_code(customer, clock) -> None:
    consent_id = ask_consent(customer, clock.now())
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent")))
    decided = customer.form("consent", {"decision": "reject"}, page=page)
    back = customer.http.get(decided.headers["Location"]).headers["Location"]
    assert "error=access_denied" in back and "code=" not in back
    assert _consent(consent_id).status == "Rejected"


def test_the_screen_is_never_framed_and_its_form_is_csrf_protected(customer, clock) -> None:
    consent_id = ask_consent(customer, clock.now())
    customer.log_in()
    page = customer.http.get(customer.url("consent"))
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    forged = customer.http.post(
        customer.url("consent"), data={"decision": "approve", f"keep-{consent_id}": "x"}
    )
    assert forged.status_code == 400
    assert _consent(consent_id).status == "AwaitingAuthorisation"


def test_an_unbounded_transaction_window_is_said_plainly(customer, clock) -> None:
    ask_consent(customer, clock.now(), TransactionFromDateTime=iso_in(clock.now(), days=-30))
    customer.log_in()
    page = _text(customer.http.get(customer.url("consent")))
    assert re.search(r"From \w+ \d+, \d{4} on", page)
