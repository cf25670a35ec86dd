"""The customer's browser for the interop tests: headless Chromium with a synthetic camera.

Chromium (the Debian package, driven by Playwright) gets a fake camera that
plays a Y4M file. A test opens the face page, reads the challenge the server
issued (the poses and the page's capture timeline), renders a matching
sequence from a portrait into that file, and only then lets the page start
the camera: the app has no test-only switch. Chromium reads the file anew
each time a page opens the camera, so a second face check in the same browser
gets its own sequence. The SMS code is read from the outbox. Screenshots land
in ``SENIM_TEST_ARTIFACTS`` (default ``test-artifacts/``), under ``browser/``.

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
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from biometrics.liveness import synthetic as S
from biometrics.liveness.challenge import Pose
from senim.database import db
from tests.support.customer import OBAMA_IIN, OBAMA_PHONE, code_sent_to, source

if TYPE_CHECKING:
    from tests.interop.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
FPS = 10
LEAD_MS = 400
TAIL_MS = 3000
#: Waits for the page (navigation, the face check's answer); never a sleep.
PAGE_TIMEOUT_MS = 60_000
#: A phone's screen.
VIEWPORT = {"width": 412, "height": 915}
ARTIFACTS = Path(os.environ.get("SENIM_TEST_ARTIFACTS", "test-artifacts")) / "browser"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
    reason="Debian chromium is not installed (.ci/run installs it)",
)


def placeholder_camera(path: Path) -> Path:
    """The fake camera's file: a few frontal frames until a test writes the sequence."""
    portrait = source("obama")
    S.write_y4m(
        [S.render_head(portrait, 0.0, 0.0, np.random.default_rng(0), jitter=False)] * 5, path, fps=FPS
    )
    return path


#: Chromium as root on a closed network (see DEPENDENCIES.md).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: A laptop's screen, for the participant cabinet and the operator console.
DESK_VIEWPORT = {"width": 1280, "height": 900}


VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@contextmanager
def chromium_with_passkeys() -> Iterator:
    """A fresh headless Chromium; yields ``new_person()``, which opens a page (English, a laptop's
    screen) in a context of its own — its own cookies — with a virtual authenticator of its own.

    The authenticator (CTAP2, built in, resident keys, user verification that
    always succeeds) is added through the DevTools protocol's WebAuthn domain:
    the page's ``navigator.credentials`` talks to it as to a laptop's
    fingerprint reader. ``new_person()`` returns the page, the CDP session
    (``WebAuthn.getCredentials`` shows what the authenticator holds) and the
    authenticator's id."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        contexts = []

        def new_person() -> tuple:
            context = browser.new_context(locale="en-US", viewport=DESK_VIEWPORT)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
            return page, cdp, added["authenticatorId"]

        try:
            yield new_person
        finally:
            for context in contexts:
                context.close()
            browser.close()


@contextmanager
def chromium_page_with_passkeys() -> Iterator:
    """One person's page of ``chromium_with_passkeys``: (page, CDP session, authenticator id)."""
    with chromium_with_passkeys() as new_person:
        yield new_person()


@contextmanager
def chromium_page(camera_file: Path, app_redirect_uri: str) -> Iterator:
    """A page of a fresh headless Chromium in English on a phone's screen, its camera ``camera_file``.

    Nothing listens at the app's redirect URI: the browser answers it itself,
    so the test reads the code from the page's URL."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera_file}",
            ],
        )
        context = browser.new_context(locale="en-US", viewport=VIEWPORT)
        context.route(f"{app_redirect_uri}**", lambda route: route.fulfill(status=200, body="app callback"))
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# -- the sign-in steps --------------------------------------------------------------------
def identify(page, iin: str = OBAMA_IIN) -> None:
    """On the identify page: the IIN, then on to the face page."""
    page.fill("#identifier", iin)
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r".*/face$"))


def face_timeline(page) -> dict:
    face = page.locator("#face")
    return {
        "poses": [
            Pose(p) for p in page.locator("#poses li").evaluate_all("els => els.map(e => e.dataset.pose)")
        ],
        "front_ms": int(face.get_attribute("data-front-ms")),
        "pose_ms": int(face.get_attribute("data-pose-ms")),
    }


def write_camera(path: Path, timeline: dict, *, flat: bool = False, seed: int = 11) -> None:
    """The Y4M matching the page's prompts: a live head, or a photo tilted as a plane.

    ``seed`` draws the head's wobble and the camera's noise: a second face
    check needs another one, since a frame set already seen is refused as a
    replay."""
    portrait = source("obama")
    rng = np.random.default_rng(seed)
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


def wait_for_face_answer(page) -> None:
    """Until the face check is answered: the code page, or a refusal on the face page."""
    page.wait_for_function(
        "() => location.pathname.endsWith('/otp') || "
        "(document.getElementById('message') && !document.getElementById('message').hidden)"
    )
    page.wait_for_load_state()


def pass_face(page, camera_file: Path, *, seed: int) -> None:
    """On the face page: a live head for this page's challenge, then on to the code page."""
    write_camera(camera_file, face_timeline(page), seed=seed)
    page.click("#start")
    wait_for_face_answer(page)
    assert page.url.endswith("/otp"), page.locator("#message").inner_text()


def enter_code(page, live: LiveServer, phone: str = OBAMA_PHONE) -> None:
    """On the code page: the code the platform just sent (read from the outbox), submitted."""
    assert "We sent a 6-digit code" in page.locator("main").inner_text()
    with live.app.app_context():
        code = code_sent_to(phone)
        db.session.remove()
    page.fill("#code", code)
    page.click("form.card button[type=submit]")
