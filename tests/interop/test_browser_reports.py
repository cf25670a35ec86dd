"""The reports' charts in Chromium, under the staff pages' Content Security Policy.

A viewer of an API user joins with a passkey (the virtual authenticator) and
opens the reports: the three SVG charts have a size, the bars are drawn and
coloured by the stylesheet (no style attribute, no script), and Chromium
reports no CSP violation.
"""

from __future__ import annotations

import re

from idp.staff_login import staff_origin
from registry.staff import invite
from senim import clock
from tests.interop.browser import chromium_page_with_passkeys, needs_chromium, shot
from tests.support.reports import call
from tests.support.staff import bank, fintech

pytestmark = needs_chromium


def test_the_report_charts_render_under_the_strict_csp(live_server):
    origin = staff_origin(live_server.issuer)
    with live_server.app.app_context():
        qarjy, altyn = fintech(), bank()
        now_ms = int(clock.now() * 1000)
        for i, latency in enumerate((90, 120, 150, 700)):
            call(now_ms - i * 3_600_000, api_user_id=qarjy.id, provider_id=altyn.id, latency_ms=latency)
        call(
            now_ms - 2 * 86_400_000,
            api_user_id=qarjy.id,
            provider_id=altyn.id,
            status=504,
            outcome="refused:bank_timeout",
        )
        _member, secret = invite(
            participant_id=qarjy.id, email="viewer@qarjy.kz", role="viewer", name="", invited_by=None
        )
    with chromium_page_with_passkeys() as (page, _cdp, _authenticator_id):
        problems: list[str] = []
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{origin}/registry/join/{secret}")
        page.fill("#name", "Dana Abenova")
        page.fill("#passkey_name", "Laptop")
        page.click("#join button[type=submit]")
        page.wait_for_url(re.compile(r".*/registry/security/recovery-codes/first$"))
        problems.clear()  # only the reports page's own messages count

        page.goto(f"{origin}/registry/reports")
        charts = page.locator("figure.chart svg")
        assert charts.count() == 3
        for i in range(3):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 50
        bar = page.locator("#chart-calls rect.ok").first
        assert bar.bounding_box()["height"] > 0
        assert bar.evaluate("el => getComputedStyle(el).fill") == "rgb(47, 111, 186)"  # registry.css applied
        assert page.locator("#chart-errors rect.provider").count() == 1
        assert page.locator("#chart-latency .series.p99 circle").count() >= 1
        assert page.locator('table[data-table="usage_by_day"] tbody tr').count() == 30
        shot(page, "reports-participant")
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        assert problems == []
