"""Staff in Chromium: join with a passkey (virtual authenticator over CDP), sign out, sign in, block.

The operator is invited from the service layer (as `senim staff invite-operator`
does); everything after that happens in the browser: the invitation page
creates a passkey in Chromium's virtual authenticator, the recovery codes are
shown once, the passkey signs the operator in again, and the console blocks
a participant after the operator confirms with the passkey.
"""

from __future__ import annotations

import re

from idp.staff_login import staff_origin
from registry.participants import get_participant
from registry.staff import OPERATOR, invite, member_by_email
from tests.interop.browser import chromium_page_with_passkeys, needs_chromium, shot
from tests.support.staff import fintech

pytestmark = needs_chromium


def test_an_operator_joins_with_a_passkey_signs_in_again_and_blocks_a_participant(live_server):
    origin = staff_origin(live_server.issuer)  # http://localhost:<port>: a passkey needs a domain
    with live_server.app.app_context():
        participant_id = fintech().id
        _member, secret = invite(
            participant_id=None, email="aliya@senim.kz", role=OPERATOR, name="", invited_by=None
        )
    with chromium_page_with_passkeys() as (page, cdp, authenticator_id):
        # an address of the server other than the staff origin is sent there
        page.goto(f"{live_server.issuer}/registry/join/{secret}")
        assert page.url.startswith(f"{origin}/registry/join/")
        page.fill("#name", "Aliya Nurpeisova")
        page.fill("#passkey_name", "Work laptop")
        page.click("#join button[type=submit]")
        page.wait_for_url(re.compile(r".*/registry/security/recovery-codes/first$"))
        assert page.locator(".recovery-codes li").count() == 10
        shot(page, "staff-recovery-codes")
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
        assert len(stored) == 1 and stored[0]["isResidentCredential"]

        page.click("text=I have kept them")
        page.wait_for_url(f"{origin}/registry/console")
        page.click("text=Sign out")
        page.wait_for_url(re.compile(r".*/registry/sign-in$"))

        page.click("#passkey-sign-in")
        page.wait_for_url(f"{origin}/registry/console")
        row = page.locator(f'tr[data-participant-id="{participant_id}"]')
        assert "Qarjy LLP" in row.inner_text()
        row.locator("input[name=reason]").fill("Licence suspended by the regulator")
        row.locator("button.danger").click()
        page.wait_for_url(f"{origin}/registry/console")
        shot(page, "staff-console-blocked")
        assert "Blocked" in page.locator(f'tr[data-participant-id="{participant_id}"]').inner_text()

        page.click("text=Security")
        assert page.locator("tr[data-passkey-id]").inner_text().startswith("Work laptop")
    with live_server.app.app_context():
        assert get_participant(participant_id).status == "blocked"
        assert member_by_email("aliya@senim.kz").name == "Aliya Nurpeisova"


def test_a_passkey_refused_by_the_server_shows_why_and_signs_no_one_in(live_server):
    origin = staff_origin(live_server.issuer)
    with chromium_page_with_passkeys() as (page, cdp, authenticator_id):
        # this authenticator holds no passkey of Senim: the browser has nothing to offer
        cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": True})
        page.goto(f"{origin}/registry/sign-in")
        page.click("#passkey-sign-in")
        page.locator("#passkey-error").wait_for(state="visible")
        assert page.url == f"{origin}/registry/sign-in"
        assert page.context.cookies() == [] or all(c["name"] != "senim_staff" for c in page.context.cookies())
