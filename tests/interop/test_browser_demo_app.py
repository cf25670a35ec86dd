"""The demo app's whole journey in headless Chromium: Qarjy, Senim, three reference banks.

The customer opens Qarjy, connects the three demo banks, signs in at Senim
(identify, face with the fake camera, SMS code), approves the consent and is
back at Qarjy, whose dashboard shows accounts, balances and transactions read
from the reference banks through the resource proxy. Then, in the Senim
cabinet, the customer withdraws the consent; the platform's signed event
reaches Qarjy (delivered here by the outbox's own call, no waiting), Qarjy
deletes the data, and its dashboard says so.

Qarjy and the banks run in threads next to the live server
(``tests/support/demo_app.py``); screenshots land in
``test-artifacts/browser/demo-app-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.otp import RESEND_AFTER
from senim.database import db
from tests.interop.browser import enter_code, identify, needs_chromium, pass_face, shot
from tests.interop.conftest import LiveServer
from tests.support.demo_app import Qarjy, start_qarjy

pytestmark = needs_chromium


@pytest.fixture
def qarjy(live_server: LiveServer, tmp_path: Path) -> Iterator[Qarjy]:
    running = start_qarjy(live_server.app, live_server.issuer, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _deliver_consent_events(live: LiveServer) -> tuple[int, int]:
    from idp.consents.notifications import deliver_all_due

    with live.app.app_context():
        done = deliver_all_due()
        db.session.remove()
    return done.delivered, done.failed


def test_connect_three_banks_in_qarjy_then_withdraw_in_senim_and_qarjy_deletes_the_data(
    live_server: LiveServer, qarjy: Qarjy, page, camera_file: Path
) -> None:
    issuer = live_server.issuer

    # -- Qarjy's home: the banks to connect ------------------------------------------------
    page.goto(qarjy.base_url + "/")
    assert page.locator("h1").inner_text() == "All your accounts in one place"
    names = [name.strip() for name in page.locator(".bank-picker .bank-name").all_inner_texts()]
    assert names == ["Altyn Demo Bank", "Dala Demo Bank", "Nur Demo Bank"]
    assert all(box.is_checked() for box in page.locator(".bank-picker input[type=checkbox]").all())
    shot(page, "demo-app-1-home")
    page.get_by_role("button", name="Connect my accounts").click()

    # -- Senim: who, face, code, consent -----------------------------------------------------
    page.wait_for_url(re.compile(r".*/interaction/[^/]+/identify$"))
    assert page.url.startswith(issuer)
    identify(page)
    pass_face(page, camera_file, seed=21)
    enter_code(page, live_server)
    page.wait_for_url(re.compile(r".*/interaction/[^/]+/consent$"))
    assert page.locator("h1").inner_text() == "Qarjy asks for your consent"
    screen = page.locator("section.consent")
    assert "Senim Demo Fintech" in screen.inner_text()
    assert [n.strip() for n in screen.locator("ul.banks li").all_inner_texts()] == names
    shot(page, "demo-app-2-consent")
    page.get_by_role("button", name="Approve").click()

    # -- back at Qarjy: the banks side by side ---------------------------------------------------
    page.wait_for_url(f"{qarjy.base_url}/dashboard")
    cards = page.locator("article.bank")
    assert [c.strip() for c in cards.locator("h2").all_inner_texts()] == names
    for card in cards.all():
        assert card.locator(".problem").count() == 0, card.inner_text()
        assert card.locator(".account").count() >= 1
        assert re.fullmatch(r"KZ\d\d( [0-9A-Z]{4}){4}", card.locator(".iban").first.inner_text())
        assert "₸" in card.locator(".balance").first.inner_text()
    assert page.locator(".transactions li").count() > 0
    assert any("₸" in total for total in page.locator(".summary .total").all_inner_texts())
    [consent_id] = page.locator(".consents li").evaluate_all("els => els.map(e => e.dataset.consentId)")
    assert qarjy.store.holds_anything_under(consent_id)
    shot(page, "demo-app-3-dashboard")

    # -- the Senim cabinet: the customer withdraws the consent -------------------------------------
    live_server.clock.advance(RESEND_AFTER + 1)  # a new SMS code only a minute after the last
    page.goto(f"{issuer}/cabinet")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/cabinet/sign-in/[^/]+/identify$"))
    identify(page)
    pass_face(page, camera_file, seed=22)
    enter_code(page, live_server)
    page.wait_for_url(f"{issuer}/cabinet")
    listed = page.locator(f'li[data-consent-id="{consent_id}"]')
    assert listed.locator(".who strong").inner_text() == "Qarjy"
    listed.get_by_role("link", name="Details and history").click()
    page.get_by_role("link", name="Withdraw this consent").click()
    page.get_by_role("button", name="Yes, withdraw").click()
    page.wait_for_url(f"{issuer}/cabinet/consents/{consent_id}?withdrawn=1")
    shot(page, "demo-app-4-withdrawn-in-senim")

    # -- the event reaches Qarjy, which deletes what it held -----------------------------------------
    assert _deliver_consent_events(live_server) == (1, 0)
    assert not qarjy.store.holds_anything_under(consent_id)
    page.goto(f"{qarjy.base_url}/dashboard")
    assert (
        "Your consent was revoked in Senim; we deleted your data." in page.get_by_role("status").inner_text()
    )
    assert page.locator("article.bank").count() == 0
    assert "No accounts connected" in page.locator("main").inner_text()
    shot(page, "demo-app-5-data-deleted")
