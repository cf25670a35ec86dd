"""`senim demo login` against a live platform: the demo app's side of a login, end to end.

The demo app (senim.demo_app) asks for a consent at the demo banks, pushes
its request and waits at its redirect URI; a browser (a requests session
here) goes through the pages with a synthetic live capture and the code from
the outbox, and approves the consent; the demo app then exchanges the code
and reads the ID token and the consent it was given.
"""

from __future__ import annotations

import re
import threading
from io import BytesIO
from pathlib import Path

import pytest

from senim.demo import demo_bank_ids, seed_demo
from senim.demo_app import demo_login
from tests.interop.conftest import HTTP_TIMEOUT, LiveServer, browser_session
from tests.support.customer import OBAMA_IIN, OBAMA_PHONE, code_sent_to, csrf_token, genuine_capture


def _say_into(lines: list[str], seen_url: threading.Event):
    def say(line: str) -> None:
        lines.append(line)
        if "/authorize?" in line:
            seen_url.set()

    return say


@pytest.fixture
def demo_key(live_server: LiveServer) -> Path:
    settings = live_server.app.extensions["senim.settings"]
    with live_server.app.app_context():
        list(seed_demo(settings))
    return settings.data_dir / "demo" / "demo-app-private.jwk.json"


def _ticked_banks(page: str) -> dict[str, list[str]]:
    ticked: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="checkbox" name="([^"]+)" value="([^"]+)" checked>', page):
        ticked.setdefault(name, []).append(value)
    return ticked


def test_the_demo_app_signs_a_demo_person_in_through_the_pages(
    live_server: LiveServer, demo_key: Path
) -> None:
    lines: list[str] = []
    seen_url = threading.Event()
    outcome: dict = {}

    with live_server.app.app_context():
        banks = demo_bank_ids()
    assert len(banks) == 3

    def run() -> None:
        try:
            outcome["login"] = demo_login(
                live_server.issuer,
                demo_key,
                _say_into(lines, seen_url),
                login_hint=OBAMA_IIN,
                timeout=60,
                provider_ids=banks,
            )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error
            seen_url.set()

    app_thread = threading.Thread(target=run, daemon=True)
    app_thread.start()
    assert seen_url.wait(HTTP_TIMEOUT), lines
    url = next(line.strip() for line in lines if "/authorize?" in line)

    with browser_session() as browser:
        browser.headers["Accept-Language"] = "en"
        identify = browser.get(url, timeout=HTTP_TIMEOUT)
        assert identify.url.endswith("/identify")
        assert f'value="{OBAMA_IIN}"' in identify.text  # the login_hint
        face = browser.post(
            identify.url,
            data={"csrf_token": csrf_token(identify.text), "identifier": OBAMA_IIN},
            timeout=HTTP_TIMEOUT,
        )
        challenge_id = re.search(r'data-challenge-id="([^"]+)"', face.text).group(1)
        poses = tuple(re.findall(r'<li data-pose="(\w+)"', face.text))
        answer = browser.post(
            face.url,
            data={"challenge_id": challenge_id},
            files=[("frames", (f"f{i}.jpg", BytesIO(f))) for i, f in enumerate(genuine_capture(poses))],
            headers={"Accept": "application/json", "X-CSRFToken": csrf_token(face.text)},
            timeout=HTTP_TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        with live_server.app.app_context():
            code = code_sent_to(OBAMA_PHONE)
        otp_url = live_server.issuer + answer.json()["next"]
        consent = browser.post(
            otp_url, data={"csrf_token": csrf_token(face.text), "code": code}, timeout=HTTP_TIMEOUT
        )
        assert consent.url.endswith("/consent"), consent.text
        assert "Qarjy asks for your consent" in consent.text
        assert "Altyn Demo Bank" in consent.text and "Senim Demo Fintech" in consent.text
        done = browser.post(
            consent.url,
            data={
                "csrf_token": csrf_token(consent.text),
                "decision": "approve",
                **_ticked_banks(consent.text),
            },
            timeout=HTTP_TIMEOUT,
        )
        assert "The demo app received the answer" in done.text

    app_thread.join(HTTP_TIMEOUT)
    assert "error" not in outcome, outcome.get("error")
    claims = outcome["login"].claims
    [detail] = outcome["login"].authorization_details
    assert detail["provider_ids"] == banks
    assert "ReadBalances" in detail["permissions"]
    assert any(detail["consent_id"] in line for line in lines)
    assert claims["amr"] == ["face", "sms", "mfa"]
    assert claims["acr"] == "urn:senim:loa:2fa"
    assert OBAMA_IIN not in claims["sub"]
