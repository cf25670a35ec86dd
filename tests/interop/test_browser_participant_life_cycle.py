"""The whole participant life cycle in Chromium, each person with a passkey of their own.

A bank registers itself (and its first admin's passkey), applies to be an
API provider and an API user with a PDF; an operator (invited, joining with
a passkey) reviews and approves; the bank registers an app, publishes its
reference bank's API through the sandbox (a broken address is refused at
publication, the failing checks named), finds it in the showcase and
connects its app. Then the bank breaks: one round of the worker suspends the
API, and the cabinet says so.
"""

from __future__ import annotations

import json
import re

from joserfc.jwk import ECKey

from idp.staff_login import staff_origin
from registry.apis import active_subscription, get_api
from registry.models import PUBLISHED, SUSPENDED
from registry.participants import list_participants
from registry.staff import OPERATOR, invite
from registry.worker import run_due_checks
from tests.interop.browser import chromium_with_passkeys, needs_chromium, shot
from tests.registry.conftest import Switchable, answering, reference_bank, serve

pytestmark = needs_chromium

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
BANK_BIN = "990140000017"


def _register_the_bank(page, origin: str) -> None:
    page.goto(f"{origin}/registry/sign-up")
    page.fill("#name", "Altyn Bank JSC")
    page.fill("#bin", BANK_BIN)
    page.fill("#contact_email", "openbanking@altyn.kz")
    page.fill("#contact_phone", "+7 727 250 00 00")
    page.fill("#admin_name", "Aigerim Seitkali")
    page.fill("#admin_email", "aigerim@altyn.kz")
    page.fill("#passkey_name", "Work laptop")
    page.click("#sign-up button[type=submit]")
    page.wait_for_url(re.compile(r".*/registry/security/recovery-codes/first$"))
    assert page.locator(".recovery-codes li").count() == 10
    page.click("text=I have kept them")
    page.wait_for_url(f"{origin}/registry/cabinet")
    assert "Registered, not accredited" in page.inner_text(".participant-status")


def _apply(page, origin: str, pdf_path) -> None:
    page.goto(f"{origin}/registry/accreditation")
    page.check("input[name=roles][value=api_provider]")
    page.check("input[name=roles][value=api_user]")
    page.set_input_files("#documents", str(pdf_path))
    page.click("form[action$='/registry/accreditation'] button[type=submit]")
    page.wait_for_url(f"{origin}/registry/accreditation")
    assert "Submitted, waiting for an operator" in page.inner_text(".application-status")


def _operator_approves(page, origin: str, secret: str) -> None:
    page.goto(f"{origin}/registry/join/{secret}")
    page.fill("#name", "Aliya Nurpeisova")
    page.click("#join button[type=submit]")
    page.wait_for_url(re.compile(r".*/recovery-codes/first$"))
    page.click("text=I have kept them")
    page.wait_for_url(f"{origin}/registry/console")
    page.click("nav.tabs >> text=Accreditation queue")
    page.click("text=Altyn Bank JSC")
    page.click("text=Start the review")
    page.wait_for_load_state()
    page.click("button:has-text('Approve')")
    page.wait_for_load_state()
    assert "Approved" in page.inner_text(".application-status")
    shot(page, "lifecycle-approved")


def _register_an_app(page, origin: str) -> str:
    key = ECKey.generate_key("P-256")
    jwks = {"keys": [{**key.as_dict(private=False), "kid": "2026-12", "alg": "ES256", "use": "sig"}]}
    page.goto(f"{origin}/registry/apps/new")
    page.fill("#name", "Altyn Money")
    page.fill("#redirect_uris", "https://money.altyn.kz/callback")
    page.fill("textarea[name=jwks]", json.dumps(jwks))
    page.click("form[action$='/registry/apps'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/registry/apps/senim-[A-Za-z0-9_-]+$"))
    return page.inner_text("code.client-id")


def _submit_api(page, origin: str, url: str) -> None:
    page.goto(f"{origin}/registry/apis")
    page.fill("#base_url", url)
    page.fill("#sandbox_url", url)
    page.fill("#description", "Accounts, balances and transactions of Altyn's retail customers")
    page.click("text=Submit and check")
    page.wait_for_url(re.compile(r".*/registry/apis/[0-9a-f-]{36}$"))


def test_a_bank_registers_is_accredited_publishes_through_the_sandbox_and_connects(live_server, tmp_path):
    origin = staff_origin(live_server.issuer)
    pdf_path = tmp_path / "charter.pdf"
    pdf_path.write_bytes(PDF)
    with live_server.app.app_context():
        _operator, secret = invite(
            participant_id=None, email="aliya@senim.kz", role=OPERATOR, invited_by=None
        )
    with chromium_with_passkeys() as new_person:
        bank_page, _cdp, _authenticator = new_person()
        _register_the_bank(bank_page, origin)
        _apply(bank_page, origin, pdf_path)

        operator_page, _cdp, _authenticator = new_person()
        _operator_approves(operator_page, origin, secret)

        bank_page.goto(f"{origin}/registry/accreditation")
        assert "API provider" in bank_page.inner_text(".accredited-roles")
        assert bank_page.locator("code.certificate-number").count() == 1
        client_id = _register_an_app(bank_page, origin)

        with live_server.app.app_context():
            bank_id = list_participants()[0].id
        # A broken sandbox is refused at publication, the failing checks named.
        with serve(answering("500 INTERNAL SERVER ERROR", {"error": "down"})) as broken_url:
            _submit_api(bank_page, origin, broken_url)
        assert "The sandbox failed a check" in bank_page.inner_text("main")
        assert bank_page.locator("tr.check-failed").count() > 0

        sandbox = Switchable(reference_bank(live_server.app, bank_id, live_server.clock))
        with serve(sandbox) as url:
            _submit_api(bank_page, origin, url)
            assert "Every check passed" in bank_page.inner_text("main")
            assert bank_page.locator("tr.check-failed").count() == 0
            api_id = bank_page.url.rsplit("/", 1)[1]
            shot(bank_page, "lifecycle-published")

            bank_page.click("nav.tabs >> text=API showcase")
            bank_page.click(f"li[data-api-id='{api_id}'] a")
            bank_page.select_option("#client_id", client_id)
            bank_page.click("section.connect button[type=submit]")
            bank_page.wait_for_url(f"{origin}/registry/connected")
            assert bank_page.locator(f"tr[data-api-id='{api_id}'][data-client-id='{client_id}']").count() == 1

            # The bank breaks: the worker's next round suspends its API.
            sandbox.broken = answering("500 INTERNAL SERVER ERROR", {"error": "down"})
            with live_server.app.app_context():
                assert get_api(api_id).status == PUBLISHED
                live_server.clock.advance(live_server.app.extensions["senim.settings"].api_check_interval)
                run_due_checks("browser-test")
                assert get_api(api_id).status == SUSPENDED
                assert active_subscription(api_id, client_id) is not None
            bank_page.goto(f"{origin}/registry/apis/{api_id}")
            assert "Suspended" in bank_page.inner_text(".api-status")
            shot(bank_page, "lifecycle-suspended")
