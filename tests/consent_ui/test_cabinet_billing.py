"""Billing pages: invoices and receivables in the cabinet, tariffs, the console's caps, periods and adjustments."""

from __future__ import annotations

import csv
import io
import re

import pytest

from registry.apis import add_api
from registry.billing import (
    close_period,
    invoices_of_period,
    pending_adjustments,
    period_bounds,
    period_of,
    previous_period,
)
from registry.models import BillingPeriod
from registry.tariffs import set_cap, tariffs_of
from senim.database import db
from senim.demo import DEMO_BANKS
from tests.support.billing import ACCOUNTS, BALANCES, backdated_tariff, calls
from tests.support.staff import bank, fintech, joined, operator

HOUR = 3600


@pytest.fixture
def month(app, clock):
    """Last month closed: the fintech called Altyn's API (some calls failing at the bank)."""
    user, altyn = fintech(), bank()
    api = add_api(provider_id=altyn.id, base_url="https://api.altyn.kz/ob", publish=True)
    name = previous_period(int(clock.now()))
    start = period_bounds(name).starts_at
    backdated_tariff(api.id, BALANCES, 1000, start)
    calls(at=start + HOUR, api_user_id=user.id, provider_id=altyn.id, api_id=api.id, count=12)
    calls(at=start + HOUR, api_user_id=user.id, provider_id=altyn.id, api_id=api.id, count=5, status=500)
    close_period(name, "operator")
    [invoice] = invoices_of_period(name)
    return {"name": name, "user": user, "altyn": altyn, "api": api, "invoice": invoice}


@pytest.fixture
def fintech_admin(app, month):
    return joined(app, participant_id=month["user"].id, role="admin", email="admin@qarjy.kz")


@pytest.fixture
def bank_finance(app, month):
    return joined(app, participant_id=month["altyn"].id, role="finance", email="finance@altyn.kz")


# -- invoices and receivables ------------------------------------------------------------------
def test_an_api_user_sees_its_invoice_with_lines_and_downloads_it(app, month, fintech_admin):
    page = fintech_admin.http.get("/registry/billing").get_data(as_text=True)
    invoice = month["invoice"]
    assert invoice.number in page and "120.00" in page
    detail = fintech_admin.http.get(f"/registry/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert "Altyn Bank" in detail and BALANCES in detail and "10.00" in detail
    pdf = fintech_admin.http.get(f"/registry/billing/invoices/{invoice.id}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and b"total 120.00 KZT" in pdf.data
    answer = fintech_admin.http.get(f"/registry/billing/invoices/{invoice.id}/invoice.csv")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[1][2] == "Altyn Bank" and rows[1][6:9] == ["12", "10.00", "120.00"]
    assert "attachment" in answer.headers["Content-Disposition"]


def test_a_provider_sees_its_receivables_but_not_the_api_users_invoice(app, month, bank_finance):
    page = bank_finance.http.get("/registry/billing").get_data(as_text=True)
    assert "Qarjy LLP" in page and "120.00" in page and "the operator pays you 120.00" in page
    invoice = month["invoice"]
    for suffix in ("", "/invoice.pdf", "/invoice.csv"):
        assert bank_finance.http.get(f"/registry/billing/invoices/{invoice.id}{suffix}").status_code == 404


def test_billing_needs_the_admin_or_finance_role(app, month):
    developer = joined(app, participant_id=month["user"].id, role="developer", email="dev@qarjy.kz")
    assert developer.http.get("/registry/billing").status_code == 403
    assert developer.http.get(f"/registry/billing/invoices/{month['invoice'].id}").status_code == 403
    assert '/registry/billing"' not in developer.http.get("/registry/cabinet").get_data(as_text=True)


def test_an_unknown_invoice_is_not_found(app, month, fintech_admin):
    assert fintech_admin.http.get("/registry/billing/invoices/nope").status_code == 404


# -- tariffs -----------------------------------------------------------------------------------------
def _set_price(staff, api_id, **form):
    return staff.post_form(f"/registry/apis/{api_id}/tariffs", form, f"/registry/apis/{api_id}/tariffs")


def test_a_provider_sets_a_price_and_sees_it_in_force_with_the_cap_and_on_the_showcase(
    app, month, bank_finance
):
    api = month["api"]
    set_cap(ACCOUNTS, "5.00", "regulator")
    answer = _set_price(bank_finance, api.id, endpoint=ACCOUNTS, price="4.75")
    assert answer.status_code == 303
    page = bank_finance.http.get(f"/registry/apis/{api.id}/tariffs").get_data(as_text=True)
    assert "4.75" in page and "5.00" in page and "The price is set" in page
    showcase = app.test_client().get(
        f"/registry/showcase/{api.id}", base_url="http://senim.test", headers={"Accept-Language": "en"}
    )
    text = showcase.get_data(as_text=True)
    assert "Tariffs in force" in text and "4.75" in text and "free (no tariff)" in text


def test_a_price_above_the_cap_is_refused_with_the_cap_named(app, month, bank_finance):
    set_cap(ACCOUNTS, "5.00", "regulator")
    answer = _set_price(bank_finance, month["api"].id, endpoint=ACCOUNTS, price="5.01")
    assert answer.status_code == 400
    assert "above the regulator&#39;s cap of 5.00 tenge" in answer.get_data(as_text=True)
    assert [t.endpoint for t in tariffs_of(month["api"].id)] == [BALANCES]


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"endpoint": ACCOUNTS, "price": "1.005"}, "at most two decimals"),
        ({"endpoint": ACCOUNTS, "price": "-1"}, "zero or more"),
        ({"endpoint": "GET /payments", "price": "1"}, "no billed endpoint"),
        ({"endpoint": ACCOUNTS, "price": "1", "starts": "2020-01-01"}, "never in the past"),
        ({"endpoint": ACCOUNTS, "price": "1", "starts": "tomorrow"}, "YYYY-MM-DD"),
    ],
)
def test_a_wrong_price_is_refused_with_the_reason(app, month, bank_finance, form, says):
    answer = _set_price(bank_finance, month["api"].id, **form)
    assert answer.status_code == 400 and says in answer.get_data(as_text=True)


def test_tariffs_need_the_role_and_the_providers_own_api(app, month, bank_finance):
    developer = joined(app, participant_id=month["altyn"].id, role="developer", email="dev@altyn.kz")
    assert _set_price(developer, month["api"].id, endpoint=ACCOUNTS, price="1").status_code == 403
    other = bank("Dala Bank", DEMO_BANKS[1][1])
    other_api = add_api(provider_id=other.id, base_url="https://api.dala.kz/ob", publish=True)
    assert bank_finance.http.get(f"/registry/apis/{other_api.id}/tariffs").status_code == 404
    answer = bank_finance.post_form(
        f"/registry/apis/{other_api.id}/tariffs", {"endpoint": ACCOUNTS, "price": "1"}
    )
    assert answer.status_code == 404 and tariffs_of(other_api.id) == []


# -- the console ----------------------------------------------------------------------------------------
@pytest.fixture
def op(app, month):
    return operator(app)


def test_an_operator_sets_a_cap_and_a_wrong_one_is_refused(app, op):
    answer = op.post_form(
        "/registry/console/caps", {"endpoint": ACCOUNTS, "cap": "3.00"}, "/registry/console/caps"
    )
    assert answer.status_code == 303
    page = op.http.get("/registry/console/caps").get_data(as_text=True)
    assert "3.00" in page and "operator@senim.kz" in page
    refused = op.post_form(
        "/registry/console/caps", {"endpoint": ACCOUNTS, "cap": "abc"}, "/registry/console/caps"
    )
    assert refused.status_code == 400 and "not an amount of tenge" in refused.get_data(as_text=True)


def test_the_console_lists_every_invoice_and_the_settlement_statement(app, month, op):
    page = op.http.get("/registry/console/billing").get_data(as_text=True)
    assert month["invoice"].number in page and month["name"] in page
    statement = op.http.get(f"/registry/console/billing/{month['name']}").get_data(as_text=True)
    assert "Qarjy LLP" in statement and "Altyn Bank" in statement and "120.00" in statement
    assert op.http.get(f"/registry/billing/invoices/{month['invoice'].id}").status_code == 200
    pdf = op.http.get(f"/registry/console/billing/{month['name']}/settlement.pdf")
    assert pdf.data.startswith(b"%PDF") and b"paid to the operator 120.00 KZT" in pdf.data
    rows = list(
        csv.reader(
            io.StringIO(
                op.http.get(f"/registry/console/billing/{month['name']}/settlement.csv").get_data(
                    as_text=True
                )
            )
        )
    )
    assert rows[-1] == ["operator", "", "", "", "", "0.00", "120.00", "120.00"]
    assert op.http.get("/registry/console/billing/2001-01").status_code == 404
    assert op.http.get("/registry/console/billing/garbage").status_code == 404


def test_closing_a_month_that_has_not_ended_is_refused(app, clock, op):
    current = period_of(int(clock.now()))  # this month: it has not ended
    answer = op.post_form("/registry/console/billing/close", {"period": current}, "/registry/console/billing")
    assert answer.status_code == 303
    page = op.http.get("/registry/console/billing").get_data(as_text=True)
    assert "has not ended yet" in page and db.session.get(BillingPeriod, current) is None


def test_closing_a_closed_month_again_changes_nothing(app, month, op):
    op.post_form("/registry/console/billing/close", {"period": month["name"]}, "/registry/console/billing")
    assert [i.id for i in invoices_of_period(month["name"])] == [month["invoice"].id]
    assert db.session.get(BillingPeriod, month["name"]).closed_by == "operator"


def test_closing_needs_a_recent_proof(app, clock, op):
    clock.advance(6 * 60)
    answer = op.post_form(
        "/registry/console/billing/close", {"period": "2026-01"}, "/registry/console/billing"
    )
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/registry/confirm")


def test_an_operator_records_an_adjustment_for_the_next_period(app, month, op):
    form = {
        "api_user_id": month["user"].id,
        "provider_id": month["altyn"].id,
        "amount": "-20.00",
        "reason": "Refund of 2 calls",
    }
    assert (
        op.post_form("/registry/console/billing/adjustments", form, "/registry/console/billing").status_code
        == 303
    )
    [adjustment] = pending_adjustments()
    assert (adjustment.amount_tiyn, adjustment.reason, adjustment.period) == (
        -2000,
        "Refund of 2 calls",
        None,
    )
    assert "Refund of 2 calls" in op.http.get("/registry/console/billing").get_data(as_text=True)


def test_the_adjustment_form_submitted_twice_records_it_once(app, month, op):
    page = op.http.get("/registry/console/billing").get_data(as_text=True)
    [form_id] = re.findall(r'name="adjustment_id" value="([0-9a-f-]{36})"', page)
    form = {
        "api_user_id": month["user"].id,
        "provider_id": month["altyn"].id,
        "amount": "-20.00",
        "reason": "Refund of 2 calls",
        "adjustment_id": form_id,
    }
    for _twice in range(2):
        answer = op.post_form("/registry/console/billing/adjustments", form, "/registry/console/billing")
        assert answer.status_code == 303
    assert [a.id for a in pending_adjustments()] == [form_id]
    forged = op.post_form(
        "/registry/console/billing/adjustments", {**form, "adjustment_id": "x"}, "/registry/console/billing"
    )
    assert "not one Senim gave" in op.http.get(forged.headers["Location"]).get_data(as_text=True)
    assert len(pending_adjustments()) == 1


@pytest.mark.parametrize(
    ("amount", "reason", "says"),
    [
        ("0", "x", "non-zero"),
        ("1.001", "x", "two decimals"),
        ("abc", "x", "not an amount"),
        ("10", "", "needs a reason"),
        ("20000000", "x", "at most 10,000,000"),
    ],
)
def test_a_wrong_adjustment_is_refused(app, month, op, amount, reason, says):
    form = {
        "api_user_id": month["user"].id,
        "provider_id": month["altyn"].id,
        "amount": amount,
        "reason": reason,
    }
    op.post_form("/registry/console/billing/adjustments", form, "/registry/console/billing")
    assert says in op.http.get("/registry/console/billing").get_data(as_text=True)
    assert pending_adjustments() == []


def test_participants_staff_have_no_console_and_operators_no_cabinet_billing(app, month, fintech_admin, op):
    for path in (
        "/registry/console/billing",
        "/registry/console/caps",
        f"/registry/console/billing/{month['name']}",
    ):
        assert fintech_admin.http.get(path).status_code == 404
    for path, form in (
        ("/registry/console/billing/close", {"period": month["name"]}),
        ("/registry/console/caps", {"endpoint": ACCOUNTS, "cap": "1"}),
        ("/registry/console/billing/adjustments", {"amount": "1", "reason": "x"}),
    ):
        assert fintech_admin.post_form(path, form).status_code == 404
    assert op.http.get("/registry/billing").status_code == 404
    assert _set_price(op, month["api"].id, endpoint=ACCOUNTS, price="1").status_code == 403


def test_the_regulator_sees_no_billing_console(app, month):
    regulator = joined(app, participant_id=None, role="regulator", email="regulator@nbk.kz")
    assert regulator.http.get("/registry/console/billing").status_code == 404
    assert regulator.http.get(f"/registry/billing/invoices/{month['invoice'].id}").status_code == 404
