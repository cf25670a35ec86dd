"""The customer's login in headless Chromium, with a synthetic camera.

The browser, its fake camera and the steps' helpers are in
``tests/interop/browser.py``. Screenshots of every page land in
``SENIM_TEST_ARTIFACTS`` (default ``test-artifacts/``).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.interop.browser import (
    enter_code,
    face_timeline,
    identify,
    needs_chromium,
    shot,
    wait_for_face_answer,
    write_camera,
)
from tests.interop.conftest import REDIRECT_URI, LiveServer
from tests.support.api_user import ApiUser
from tests.support.flow import query

pytestmark = needs_chromium


def _start(live: LiveServer, app_user: ApiUser, page) -> None:
    pushed = app_user.par(redirect_uri=REDIRECT_URI, state="browser-state")
    assert pushed.status_code == 201, pushed.get_json()
    page.goto(
        f"{live.issuer}/authorize?client_id={app_user.client_id}&request_uri={pushed.get_json()['request_uri']}"
    )
    page.wait_for_url(re.compile(r".*/interaction/[^/]+/identify$"))
    shot(page, "1-identify")
    identify(page)


def test_a_live_face_and_the_sms_code_bring_the_customer_to_the_consent_step(
    live_server: LiveServer, app_user: ApiUser, page, camera_file: Path
) -> None:
    _start(live_server, app_user, page)
    write_camera(camera_file, face_timeline(page))
    shot(page, "2-face")
    page.click("#start")
    wait_for_face_answer(page)
    assert page.url.endswith("/otp"), page.locator("#message").inner_text()
    shot(page, "3-otp")
    enter_code(page, live_server)
    page.wait_for_url(re.compile(r".*/consent$"))
    assert "Demo Wallet asks for your consent" in page.content()
    shot(page, "4-consent")
    page.click("button[value=approve]")
    page.wait_for_url(f"{REDIRECT_URI}**")
    params = query(page.url)
    assert params["state"] == "browser-state" and params["iss"] == live_server.issuer
    tokens = app_user.exchange(params["code"], redirect_uri=REDIRECT_URI)
    assert tokens.status_code == 200, tokens.get_json()


def test_a_photo_held_up_to_the_camera_is_refused(
    live_server: LiveServer, app_user: ApiUser, page, camera_file: Path
) -> None:
    _start(live_server, app_user, page)
    write_camera(camera_file, face_timeline(page), flat=True)
    page.click("#start")
    wait_for_face_answer(page)
    message = page.locator("#message")
    assert "looks like a photo or a screen" in message.inner_text()
    assert "flat_surface" in page.locator("#face").get_attribute("data-refusal")
    assert page.locator("#retry").is_visible()
    shot(page, "5-face-refused")
    assert page.url.endswith("/face")
