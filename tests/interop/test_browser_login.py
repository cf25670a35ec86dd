"""The customer's login in headless Chromium, with a synthetic camera.

Chromium (the Debian package, driven by Playwright) gets a fake camera that
plays a Y4M file. The test opens the face page, reads the challenge the
server issued (the poses and the page's capture timeline), renders a matching
sequence from a portrait into that file, and only then lets the page start
the camera: the app has no test-only switch. The SMS code is read from the
outbox. Screenshots of every page land in ``SENIM_TEST_ARTIFACTS``
(default ``test-artifacts/``).

Timeline of the Y4M (10 frames/s): the frontal segment lasts the page's
frontal prompt plus a lead, each pose segment one pose prompt, then a long
frontal tail. The page samples late in each prompt, so the camera may start
up to ~0.8 s before or after the page's clock without a frame landing in the
wrong segment.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from biometrics.liveness import synthetic as S
from biometrics.liveness.challenge import Pose
from senim.database import db
from tests.interop.conftest import REDIRECT_URI, LiveServer
from tests.support.api_user import ApiUser
from tests.support.customer import OBAMA_IIN, OBAMA_PHONE, code_sent_to, put_on_record, source
from tests.support.flow import query

CHROMIUM = "/usr/bin/chromium"
FPS = 10
LEAD_MS = 400
TAIL_MS = 3000
#: Waits for the page (navigation, the face check's answer); never a sleep.
PAGE_TIMEOUT_MS = 60_000
ARTIFACTS = Path(os.environ.get("SENIM_TEST_ARTIFACTS", "test-artifacts")) / "browser"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
    reason="Debian chromium is not installed (.ci/run installs it)",
)


@pytest.fixture
def camera_file(tmp_path: Path) -> Path:
    """The fake camera's file; a frontal placeholder until the test writes the sequence."""
    path = tmp_path / "camera.y4m"
    portrait = source("obama")
    S.write_y4m(
        [S.render_head(portrait, 0.0, 0.0, np.random.default_rng(0), jitter=False)] * 5, path, fps=FPS
    )
    return path


@pytest.fixture
def page(camera_file: Path) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera_file}",
            ],
        )
        context = browser.new_context(locale="en-US", viewport={"width": 412, "height": 915})
        # Nothing listens at the app's redirect URI: answer it here so the URL can be read.
        context.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, body="app callback"))
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def app_user(live_server: LiveServer, register_client) -> ApiUser:
    registered = register_client("browser-app", name="Demo Wallet")
    with live_server.app.app_context():
        put_on_record(live_server.app)
    http = live_server.app.test_client()  # the app's back channel: PAR and token requests
    import time

    return ApiUser(
        http=http,
        client_id=registered.client_id,
        key=registered.key,
        now=time.time,
        issuer=live_server.issuer,
    )


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _start(live: LiveServer, app_user: ApiUser, page) -> None:
    pushed = app_user.par(redirect_uri=REDIRECT_URI, state="browser-state")
    assert pushed.status_code == 201, pushed.get_json()
    page.goto(
        f"{live.issuer}/authorize?client_id={app_user.client_id}&request_uri={pushed.get_json()['request_uri']}"
    )
    page.wait_for_url(re.compile(r".*/interaction/[^/]+/identify$"))
    _shot(page, "1-identify")
    page.fill("#identifier", OBAMA_IIN)
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r".*/face$"))


def _wait_for_answer(page) -> None:
    """Until the face check is answered: the code page, or a refusal on the face page."""
    page.wait_for_function(
        "() => location.pathname.endsWith('/otp') || "
        "(document.getElementById('message') && !document.getElementById('message').hidden)"
    )
    page.wait_for_load_state()


def _timeline(page) -> dict:
    face = page.locator("#face")
    return {
        "poses": [
            Pose(p) for p in page.locator("#poses li").evaluate_all("els => els.map(e => e.dataset.pose)")
        ],
        "front_ms": int(face.get_attribute("data-front-ms")),
        "pose_ms": int(face.get_attribute("data-pose-ms")),
    }


def _write_camera(path: Path, timeline: dict, *, flat: bool) -> None:
    """The Y4M matching the page's prompts: a live head, or a photo tilted as a plane."""
    portrait = source("obama")
    rng = np.random.default_rng(11)
    render = S.render_flat_tilt if flat else S.render_head
    amplitude = 32.0 if flat else 21.0
    segments = [((0.0, 0.0), timeline["front_ms"] + LEAD_MS)]
    for pose in timeline["poses"]:
        yaw, pitch = S.POSE_DIRECTIONS[pose]
        segments.append(((yaw * amplitude, pitch * amplitude), timeline["pose_ms"]))
    segments.append(((0.0, 0.0), TAIL_MS))
    frames = []
    for (yaw, pitch), duration in segments:
        count = round(duration * FPS / 1000)
        # a new picture every half second (a live camera never repeats itself), each held 5 frames
        for start in range(0, count, 5):
            wobble = rng.uniform(-1.5, 1.5, size=2)
            picture = render(portrait, yaw + wobble[0], pitch + wobble[1], rng)
            frames.extend([picture] * min(5, count - start))
    S.write_y4m(frames, path, fps=FPS)


def test_a_live_face_and_the_sms_code_bring_the_customer_to_the_consent_step(
    live_server: LiveServer, app_user: ApiUser, page, camera_file: Path
) -> None:
    _start(live_server, app_user, page)
    _write_camera(camera_file, _timeline(page), flat=False)
    _shot(page, "2-face")
    page.click("#start")
    _wait_for_answer(page)
    assert page.url.endswith("/otp"), page.locator("#message").inner_text()
    _shot(page, "3-otp")
    with live_server.app.app_context():
        code = code_sent_to(OBAMA_PHONE)
        db.session.remove()
    page.fill("#code", code)
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r".*/consent$"))
    assert "Demo Wallet asks for your consent" in page.content()
    _shot(page, "4-consent")
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
    _write_camera(camera_file, _timeline(page), flat=True)
    page.click("#start")
    _wait_for_answer(page)
    message = page.locator("#message")
    assert "looks like a photo or a screen" in message.inner_text()
    assert "flat_surface" in page.locator("#face").get_attribute("data-refusal")
    assert page.locator("#retry").is_visible()
    _shot(page, "5-face-refused")
    assert page.url.endswith("/face")
