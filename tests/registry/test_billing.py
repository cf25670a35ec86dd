"""Billing: pricing metered calls, closing a month into invoices and a settlement statement, documents."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from registry.apis import add_api
from registry.billing import (
    CLOSING_GRACE,
    BillingError,
    PeriodNotEnded,
    close_period,
    close_previous_period,
    invoice_lines,
    invoices_of_period,
    parse_adjustment,
    period_bounds,
    period_of,
    previous_period,
    priced_calls,
    record_adjustment,
    settlement_of,
)
from registry.billing_documents import invoice_csv, invoice_pdf, settlement_csv, settlement_pdf
from registry.models import BillingPeriod, Invoice, InvoiceLine, SettlementLine
from registry.tariffs import set_cap, set_tariff
from senim.database import db
from senim.demo import DEMO_BANKS
from tests.support.billing import ACCOUNTS, BALANCES, calls
from tests.support.staff import bank, fintech

SEPTEMBER = period_bounds("2026-09")
HOUR = 3600
DAY = 86400


@pytest.fixture
def world(app, clock):
    """A fintech, two banks with an API each; the clock on 2026-09-01 10:00 (Kazakhstan time)."""
    clock._now = SEPTEMBER.starts_at + 10 * HOUR
    user, altyn, dala = fintech(), bank(), bank("Dala Банкі", DEMO_BANKS[1][1])
    altyn_api = add_api(provider_id=altyn.id, base_url="https://api.altyn.kz/ob", publish=True)
    dala_api = add_api(provider_id=dala.id, base_url="https://api.dala.kz/ob", publish=True)
    return {"user": user, "altyn": altyn, "dala": dala, "altyn_api": altyn_api, "dala_api": dala_api}


def _to_altyn(world, at, **kwargs):
    calls(
        at=at,
        api_user_id=world["user"].id,
        provider_id=world["altyn"].id,
        api_id=world["altyn_api"].id,
        **kwargs,
    )


def _end_of_september(clock):
    clock._now = SEPTEMBER.ends_at + CLOSING_GRACE


# -- periods -----------------------------------------------------------------------------------
def test_a_period_is_a_calendar_month_in_kazakhstan_time():
    november = period_bounds("2026-11")
    assert november.starts_at == 1_793_473_200  # 2026-10-31T19:00:00Z = 2026-11-01 00:00 UTC+5
    assert period_bounds("2026-12").ends_at - period_bounds("2026-12").starts_at == 31 * DAY
    assert period_of(november.starts_at) == "2026-11" and period_of(november.starts_at - 1) == "2026-10"
    assert previous_period(november.starts_at) == "2026-10"
    assert previous_period(period_bounds("2027-01").starts_at + DAY) == "2026-12"


@pytest.mark.parametrize("name", ["2026-13", "26-11", "2026-1", "november", "", None, "2026-11-01"])
def test_a_period_that_is_not_a_month_is_refused(name):
    with pytest.raises(BillingError, match="YYYY-MM"):
        period_bounds(name)


# -- pricing -----------------------------------------------------------------------------------
def test_calls_are_priced_by_the_tariff_in_force_at_their_time_across_a_change(app, clock, world):
    change = SEPTEMBER.starts_at + 15 * DAY
    set_tariff(world["altyn_api"].id, BALANCES, "10.00", "altyn-admin")
    set_tariff(world["altyn_api"].id, BALANCES, "12.50", "altyn-admin", effective_from=change)
    _to_altyn(world, SEPTEMBER.starts_at, count=1)  # before the first tariff: free
    _to_altyn(world, int(clock.now()), count=3)  # the first tariff's first second
    _to_altyn(world, change - 1, count=2)  # the last second at 10.00
    _to_altyn(world, change, count=4)  # the new price from its first second
    _to_altyn(world, SEPTEMBER.ends_at - 1, count=1)  # the month's last second
    _to_altyn(world, SEPTEMBER.ends_at, count=5)  # October's
    priced = {(p.unit_price_tiyn, p.calls) for p in priced_calls(SEPTEMBER)}
    assert priced == {(1000, 5), (1250, 5)}


def test_a_price_a_lowered_cap_flagged_is_charged_at_the_cap_from_the_caps_start(app, clock, world):
    lowered = SEPTEMBER.starts_at + 10 * DAY
    set_tariff(world["altyn_api"].id, BALANCES, "10.00", "altyn-admin")
    set_cap(BALANCES, "8.00", "regulator", effective_from=lowered)  # flags the 10.00, which stays
    _to_altyn(world, lowered - 1, count=2)  # before the cap: the price
    _to_altyn(world, lowered, count=3)  # from the cap's first second: the cap
    priced = {(p.unit_price_tiyn, p.calls) for p in priced_calls(SEPTEMBER)}
    assert priced == {(1000, 2), (800, 3)}


def test_provider_caused_failures_and_refusals_are_not_charged(app, clock, world):
    set_tariff(world["altyn_api"].id, BALANCES, "10.00", "altyn-admin")
    at = int(clock.now()) + HOUR
    _to_altyn(world, at, count=2)
    _to_altyn(world, at, count=1, status=404, outcome="bank_refused:404")  # the bank answered: charged
    _to_altyn(world, at, count=3, status=502, outcome="refused:bank_status_500")
    _to_altyn(world, at, count=2, status=502, outcome="refused:bank_status_503")
    _to_altyn(world, at, count=4, status=504, outcome="refused:bank_timeout")
    _to_altyn(world, at, count=1, status=502, outcome="refused:bank_unavailable")
    _to_altyn(world, at, count=1, status=502, outcome="refused:bank_answer_invalid")
    _to_altyn(world, at, count=5, status=403, outcome="refused:consent_revoked")
    _to_altyn(world, at, count=2, status=429, outcome="refused:rate_limited")
    calls(
        at=at,
        api_user_id=world["user"].id,
        provider_id=None,
        api_id=None,
        count=3,
        status=400,
        outcome="refused:unknown_provider",
    )
    [priced] = priced_calls(SEPTEMBER)
    assert (priced.calls, priced.amount_tiyn) == (3, 3000)


# -- closing -----------------------------------------------------------------------------------
def _september_with_calls(clock, world):
    set_tariff(world["altyn_api"].id, BALANCES, "10.00", "altyn-admin")
    set_tariff(world["altyn_api"].id, ACCOUNTS, "2.50", "altyn-admin")
    set_tariff(world["dala_api"].id, BALANCES, "7.25", "dala-admin")
    at = int(clock.now()) + HOUR
    _to_altyn(world, at, count=40)
    _to_altyn(world, at, endpoint=ACCOUNTS, count=17)
    _to_altyn(world, at, count=9, status=500)
    calls(
        at=at,
        api_user_id=world["user"].id,
        provider_id=world["dala"].id,
        api_id=world["dala_api"].id,
        count=11,
    )
    # Dala's own app calls Altyn: Dala is an API user too (it owes and receives)
    calls(
        at=at,
        api_user_id=world["dala"].id,
        provider_id=world["altyn"].id,
        api_id=world["altyn_api"].id,
        count=6,
    )


def test_a_month_cannot_be_closed_before_it_has_ended_and_the_grace_has_passed(app, clock, world):
    for before in (SEPTEMBER.ends_at - 1, SEPTEMBER.ends_at, SEPTEMBER.ends_at + CLOSING_GRACE - 1):
        clock._now = before
        with pytest.raises(PeriodNotEnded, match="has not ended"):
            close_period("2026-09", "operator")
        assert db.session.get(BillingPeriod, "2026-09") is None
    clock._now = SEPTEMBER.ends_at + CLOSING_GRACE
    assert close_period("2026-09", "operator").period == "2026-09"


def test_a_call_of_the_months_last_moment_metered_after_its_end_is_on_its_invoice(app, clock, world):
    set_tariff(world["altyn_api"].id, BALANCES, "10.00", "altyn-admin")
    clock._now = SEPTEMBER.ends_at + 2  # the answer sent two seconds after midnight
    _to_altyn(world, SEPTEMBER.ends_at - 1, count=1)  # its time: the month's last second
    _end_of_september(clock)
    assert close_period("2026-09", "operator").total_tiyn == 1000


def test_an_invoice_per_api_user_whose_totals_are_the_sum_of_its_priced_calls(app, clock, world):
    _september_with_calls(clock, world)
    expected = {}
    for p in priced_calls(SEPTEMBER):
        expected[p.api_user_id] = expected.get(p.api_user_id, 0) + p.amount_tiyn
    _end_of_september(clock)
    closed = close_period("2026-09", "operator")
    invoices = {invoice.api_user_id: invoice for invoice in invoices_of_period("2026-09")}
    assert {k: v.total_tiyn for k, v in invoices.items()} == expected
    mine = invoices[world["user"].id]
    assert mine.total_tiyn == 40 * 1000 + 17 * 250 + 11 * 725
    lines = [
        (line.provider_name, line.endpoint, line.calls, line.unit_price_tiyn, line.amount_tiyn)
        for line in invoice_lines(mine.id)
    ]
    assert lines == [
        ("Altyn Bank", ACCOUNTS, 17, 250, 4250),
        ("Altyn Bank", BALANCES, 40, 1000, 40000),
        ("Dala Банкі", BALANCES, 11, 725, 7975),
    ]
    assert closed.calls_charged == 40 + 17 + 11 + 6
    assert closed.total_tiyn == sum(expected.values())
    assert mine.number.startswith("SNM-2026-09-")


def test_closing_again_returns_the_same_documents_and_writes_nothing(app, clock, world):
    _september_with_calls(clock, world)
    _end_of_september(clock)
    first = close_period("2026-09", "operator")
    numbers = [(i.id, i.number, i.total_tiyn) for i in invoices_of_period("2026-09")]
    rows = db.session.scalar(select(func.count()).select_from(InvoiceLine))
    again = close_period("2026-09", "another-operator")
    assert again.closed_by == first.closed_by == "operator"
    assert [(i.id, i.number, i.total_tiyn) for i in invoices_of_period("2026-09")] == numbers
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == rows
    assert db.session.scalar(select(func.count()).select_from(BillingPeriod)) == 1


def test_two_closes_of_one_month_cannot_both_write(app, clock, world, monkeypatch):
    """Another close commits between this one's look-up and its insert: this one writes nothing
    (the period's name is the primary key) and returns what the other stored."""
    from sqlalchemy import insert

    import registry.billing as billing

    _september_with_calls(clock, world)
    _end_of_september(clock)
    real_clock = billing.clock

    class OtherCloseFirst:
        @staticmethod
        def now_int() -> int:
            with db.engine.begin() as other:
                other.execute(
                    insert(BillingPeriod.__table__).values(
                        period="2026-09",
                        starts_at=SEPTEMBER.starts_at,
                        ends_at=SEPTEMBER.ends_at,
                        closed_at=real_clock.now_int(),
                        closed_by="other",
                        calls_charged=0,
                        total_tiyn=0,
                    )
                )
            return real_clock.now_int()

    monkeypatch.setattr(billing, "clock", OtherCloseFirst)
    assert close_period("2026-09", "this").closed_by == "other"
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
    assert db.session.scalar(select(func.count()).select_from(BillingPeriod)) == 1


def test_a_closed_month_never_changes_when_tariffs_or_adjustments_come_later(app, clock, world):
    _september_with_calls(clock, world)
    _end_of_september(clock)
    close_period("2026-09", "operator")
    before = [(i.number, i.total_tiyn) for i in invoices_of_period("2026-09")]
    set_tariff(world["altyn_api"].id, BALANCES, "99.00", "altyn-admin")  # from now on
    record_adjustment(
        api_user_id=world["user"].id,
        provider_id=world["altyn"].id,
        amount_tiyn=-5000,
        reason="refund",
        actor="op",
    )
    db.session.commit()
    _to_altyn(world, SEPTEMBER.ends_at - 10, count=100)  # a late row for September: not re-priced
    assert close_period("2026-09", "operator").closed_by == "operator"
    assert [(i.number, i.total_tiyn) for i in invoices_of_period("2026-09")] == before


def test_adjustments_land_on_the_next_period_closed_with_their_reason_only_once(app, clock, world):
    _september_with_calls(clock, world)
    record_adjustment(
        api_user_id=world["user"].id,
        provider_id=world["altyn"].id,
        amount_tiyn=-1500,
        reason="Refund: stale balances  returned",
        actor="op",
    )
    db.session.commit()
    _end_of_september(clock)
    clock._now += HOUR
    late = record_adjustment(  # recorded after September ended: October's
        api_user_id=world["user"].id,
        provider_id=world["dala"].id,
        amount_tiyn=700,
        reason="late fee",
        actor="op",
    )
    db.session.commit()
    close_period("2026-09", "operator")
    invoice = next(i for i in invoices_of_period("2026-09") if i.api_user_id == world["user"].id)
    adjustments = [
        (line.provider_id, line.amount_tiyn, line.reason)
        for line in invoice_lines(invoice.id)
        if line.kind == "adjustment"
    ]
    assert adjustments == [(world["altyn"].id, -1500, "Refund: stale balances returned")]
    assert invoice.adjustments_tiyn == -1500 and invoice.total_tiyn == invoice.calls_tiyn - 1500
    clock._now = period_bounds("2026-10").ends_at + CLOSING_GRACE
    october = close_period("2026-10", "operator")
    [october_invoice] = invoices_of_period("2026-10")
    [line] = invoice_lines(october_invoice.id)
    assert (line.kind, line.adjustment_id, line.amount_tiyn, line.reason) == (
        "adjustment",
        late.id,
        700,
        "late fee",
    )
    assert october.total_tiyn == 700


def test_the_settlement_statement_nets_through_the_operator_and_balances_to_zero(app, clock, world):
    _september_with_calls(clock, world)
    record_adjustment(
        api_user_id=world["dala"].id, provider_id=world["altyn"].id, amount_tiyn=-600, reason="x", actor="op"
    )
    db.session.commit()
    _end_of_september(clock)
    close_period("2026-09", "operator")
    lines = {line.participant_id: line for line in settlement_of("2026-09")}
    user, altyn, dala = (lines[world[k].id] for k in ("user", "altyn", "dala"))
    assert (user.owes_tiyn, user.receives_tiyn, user.net_tiyn) == (52225, 0, -52225)
    assert (altyn.owes_tiyn, altyn.receives_tiyn) == (0, 44250 + 6 * 1000 - 600)
    assert (dala.owes_tiyn, dala.receives_tiyn, dala.net_tiyn) == (5400, 7975, 2575)
    assert sum(line.net_tiyn for line in lines.values()) == 0
    assert sum(line.owes_tiyn for line in lines.values()) == sum(
        line.receives_tiyn for line in lines.values()
    )


def test_an_empty_month_closes_into_no_invoices(app, clock, world):
    _end_of_september(clock)
    closed = close_period("2026-09", "operator")
    assert (closed.calls_charged, closed.total_tiyn) == (0, 0)
    assert invoices_of_period("2026-09") == [] and settlement_of("2026-09") == []


def test_the_worker_closes_last_month_once_it_has_ended_and_then_does_nothing(app, clock, world):
    _september_with_calls(clock, world)
    clock._now = SEPTEMBER.ends_at + CLOSING_GRACE - 1
    assert close_previous_period().period == "2026-08"  # September's grace has not passed: August
    assert db.session.get(BillingPeriod, "2026-09") is None
    clock._now = SEPTEMBER.ends_at + 5 * HOUR
    closed = close_previous_period()
    assert closed.period == "2026-09" and closed.closed_by == "worker"
    assert close_previous_period() is None


def test_the_worker_round_closes_the_period(app, clock, world):
    import threading

    from registry.worker import run_worker

    _september_with_calls(clock, world)
    clock._now = SEPTEMBER.ends_at + HOUR
    run_worker(app, threading.Event(), once=True)
    assert db.session.get(BillingPeriod, "2026-09") is not None


# -- adjustments -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "tiyn"), [("-150.00", -15000), ("12,5", 1250), (" 0.01", 1), ("-10000000", -1_000_000_000)]
)
def test_adjustments_are_read_in_signed_tenge(text, tiyn):
    assert parse_adjustment(text) == tiyn


@pytest.mark.parametrize(
    "text", ["0", "-0.00", "1.005", "abc", "", 1.5, None, "NaN", "10000000.01", True, "-1e999999", "1" * 40]
)
def test_adjustment_amounts_that_are_not_money_are_refused(text):
    with pytest.raises(BillingError):
        parse_adjustment(text)


# -- documents ---------------------------------------------------------------------------------------
def test_the_invoice_documents_show_the_lines_and_the_total_and_never_change(app, clock, world):
    _september_with_calls(clock, world)
    record_adjustment(
        api_user_id=world["user"].id,
        provider_id=world["dala"].id,
        amount_tiyn=-225,
        reason="Қайтару, refund",
        actor="op",
    )
    clock._now += 1  # lines in the order recorded
    record_adjustment(
        api_user_id=world["user"].id,
        provider_id=world["dala"].id,
        amount_tiyn=100,
        reason='=HYPERLINK("https://evil.example","refund")',
        actor="op",
    )
    db.session.commit()
    _end_of_september(clock)
    close_period("2026-09", "operator")
    invoice = next(i for i in invoices_of_period("2026-09") if i.api_user_id == world["user"].id)
    pdf = invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF") and b"total 521.00 KZT" in pdf
    clock._now += 40 * DAY
    assert invoice_pdf(invoice) == pdf  # made from the frozen rows and the closing time only
    rows = list(csv.reader(io.StringIO(invoice_csv(invoice).decode())))
    assert rows[0][:3] == ["line", "kind", "provider"]
    assert rows[-1][1:2] == ["total"] and rows[-1][8] == "521.00"
    assert [
        rows[4][2],
        rows[4][1],
        rows[4][8],
        rows[4][9],
    ] == ["Dala Банкі", "adjustment", "-2.25", "Қайтару, refund"]  # a negative amount stays a number
    assert rows[5][9] == '\'=HYPERLINK("https://evil.example","refund")'  # text, never a formula
    assert sum(int(r[8].replace(".", "")) for r in rows[1:-3]) == invoice.total_tiyn


def test_the_settlement_documents_balance(app, clock, world):
    _september_with_calls(clock, world)
    _end_of_september(clock)
    period = close_period("2026-09", "operator")
    pdf = settlement_pdf(period)
    assert pdf.startswith(b"%PDF") and b"paid to the operator 522.25 KZT" in pdf
    rows = list(csv.reader(io.StringIO(settlement_csv(period).decode())))
    assert rows[0][0] == "participant" and rows[-1][0] == "operator"
    assert rows[-1][5:] == ["0.00", "522.25", "522.25"]
    assert db.session.scalar(select(func.count()).select_from(SettlementLine)) == len(rows) - 2


# -- the command line ---------------------------------------------------------------------------------
def test_the_close_command_closes_an_ended_month_and_refuses_one_to_come(tmp_path):
    from click.testing import CliRunner

    from senim.cli import main

    runner, env = CliRunner(), {"SENIM_DATA_DIR": str(tmp_path), "SENIM_ISSUER": "http://senim.test"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    closed = runner.invoke(main, ["billing", "close", "2020-01"], env=env)
    assert closed.exit_code == 0 and "2020-01 closed by cli: 0 invoice(s)" in closed.output
    again = runner.invoke(main, ["billing", "close", "2020-01"], env=env)
    assert again.exit_code == 0 and "closed by cli" in again.output
    refused = runner.invoke(main, ["billing", "close", "2999-12"], env=env)
    assert refused.exit_code != 0 and "has not ended yet" in refused.output
    wrong = runner.invoke(main, ["billing", "close", "december"], env=env)
    assert wrong.exit_code != 0 and "YYYY-MM" in wrong.output


# -- the demo ---------------------------------------------------------------------------------------------
def test_the_demo_closes_last_month_with_failures_free_and_seeding_twice_changes_nothing(app, clock):
    from registry.billing import pending_adjustments
    from registry.participants import API_PROVIDER, API_USER, add_participant
    from senim.demo import DEMO_FINTECH
    from senim.demo_billing import DEMO_CALLS, seed_demo_billing

    add_participant(name=DEMO_FINTECH[0], bin=DEMO_FINTECH[1], roles=[API_USER])
    for index, (name, bin_) in enumerate(DEMO_BANKS):
        provider = add_participant(name=name, bin=bin_, roles=[API_PROVIDER])
        add_api(provider_id=provider.id, base_url=f"https://bank{index}.example/ob", publish=True)
    lines = list(seed_demo_billing())
    name = previous_period(int(clock.now()))
    assert any(f"{name} closed, 1 invoice(s)" in line for line in lines)
    closed = db.session.get(BillingPeriod, name)
    assert 0 < closed.calls_charged < DEMO_CALLS  # 5xx, timeouts and refusals are free
    assert closed.total_tiyn == sum(p.amount_tiyn for p in priced_calls(period_bounds(name)))
    assert len({line.unit_price_tiyn for line in db.session.scalars(select(InvoiceLine))}) > 3
    assert sum(line.net_tiyn for line in settlement_of(name)) == 0
    [waiting] = pending_adjustments()
    counts = [
        db.session.scalar(select(func.count()).select_from(t)) for t in (Invoice, InvoiceLine, SettlementLine)
    ]
    again = list(seed_demo_billing())
    assert again == [f"demo billing present: {name} closed"]
    assert [
        db.session.scalar(select(func.count()).select_from(t)) for t in (Invoice, InvoiceLine, SettlementLine)
    ] == counts
    assert [a.id for a in pending_adjustments()] == [waiting.id]
