"""What `make run`'s demo shows of billing, reports and appeals, as the README walks through it:
each demo staff member signs in with the code `senim demo staff-code` prints and finds seeded data."""

from __future__ import annotations

import re

import pytest

from senim.app import create_app
from senim.settings import Settings
from tests.registry.test_staff_cli import _senim
from tests.support.staff import staff_browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    env, senim = _senim(tmp_path_factory.mktemp("demo"))
    seeded = senim("demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    app = create_app(Settings.from_env(env))

    def signed_in(email: str):
        code = senim("demo", "staff-code", email)
        assert code.exit_code == 0, code.output
        browser = staff_browser(app)
        page = browser.get("/registry/sign-in").get_data(as_text=True)
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        answer = browser.post(
            "/registry/sign-in/code", data={"csrf_token": csrf, "email": email, "code": code.output.strip()}
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)
        return browser, answer.headers["Location"]

    with app.app_context():
        yield signed_in


def test_the_operator_finds_last_months_invoice_the_appeals_queue_and_the_reports(demo):
    browser, landing = demo("operator@senim.demo")
    assert landing == "/registry/console"
    billing = browser.get("/registry/console/billing").get_data(as_text=True)
    assert re.search(r"SNM-\d{4}-\d{2}-0001", billing) and "Senim Demo Fintech" in billing
    appeals = browser.get("/registry/console/appeals").get_data(as_text=True)
    assert "appeal-overdue" in appeals or "Overdue" in appeals
    reports = browser.get("/registry/console/reports").get_data(as_text=True)
    assert "<svg" in reports and "Altyn Demo Bank" in reports


def test_the_fintech_admin_sees_its_invoice_and_its_reports_with_charts(demo):
    browser, _landing = demo("admin@fintech.demo")
    billing = browser.get("/registry/billing").get_data(as_text=True)
    [invoice_path] = set(re.findall(r'href="(/registry/billing/invoices/[0-9a-f-]{36})"', billing))
    invoice = browser.get(invoice_path).get_data(as_text=True)
    assert "Total, KZT" in invoice and "Altyn Demo Bank" in invoice
    reports = browser.get("/registry/reports").get_data(as_text=True)
    assert reports.count("<svg") >= 3
    assert "Appeals" in browser.get("/registry/appeals").get_data(as_text=True)


def test_the_regulator_lands_on_the_platforms_reports_and_changes_nothing(demo):
    browser, landing = demo("regulator@senim.demo")
    assert landing == "/registry/console/reports"
    assert "<svg" in browser.get(landing).get_data(as_text=True)
    assert browser.get("/registry/console/billing").status_code == 404
    assert browser.get("/registry/console/appeals").status_code == 404
