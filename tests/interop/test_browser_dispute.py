"""A dispute in Chromium, each person with a passkey of their own.

An API user's finance officer files a dispute about a routed call (by its
interaction id, with a PDF); it is addressed to the call's provider, whose
developer answers it with a comment; an operator of the billing team takes
it and resolves it as upheld with a refund. The resolution and its billing
adjustment are stored together.

The disputed call is on last month's invoice, already issued (a closed
period never changes); the dispute is handled in this month's last minutes;
then the month ends, the operator closes it in the console, and the API
user's finance officer finds the refund, with its reason, on this month's
invoice (``_the_refund_is_on_the_next_invoice``).
"""

from __future__ import annotations

import re
import uuid

from idp.staff_login import staff_origin
from registry.apis import add_api
from registry.appeal_models import Appeal
from registry.billing import (
    CLOSING_GRACE,
    Period,
    close_period,
    invoices_of,
    period_bounds,
    period_of,
    previous_period,
)
from registry.models import BillingAdjustment, Tariff
from registry.staff import OPERATOR, invite
from senim.database import db
from tests.interop.browser import chromium_with_passkeys, needs_chromium, shot
from tests.support.appeals import PDF, routed_call
from tests.support.staff import bank, fintech

pytestmark = needs_chromium

INTERACTION_ID = "93bac548-d2de-4546-b106-880a5018460d"
BALANCES = "GET /accounts/{AccountId}/balances"


def _join(page, origin: str, secret: str, name: str, landing: str) -> None:
    """Accept the invitation with a new passkey, keep the recovery codes, land on ``landing``."""
    page.goto(f"{origin}/registry/join/{secret}")
    page.fill("#name", name)
    page.click("#join button[type=submit]")
    page.wait_for_url(re.compile(r".*/recovery-codes/first$"))
    page.click("text=I have kept them")
    page.wait_for_url(f"{origin}{landing}")


def _api_user_files_a_dispute(page, origin: str, pdf_path) -> str:
    page.click("nav.tabs >> text=Appeals")
    page.click("text=File an appeal")
    page.select_option("#category", "dispute")
    page.fill("#subject", "Balances call billed twice")
    page.fill("#text", "The call was answered once and appears twice in the usage.")
    page.fill("#interaction_id", INTERACTION_ID)
    page.set_input_files("#attachments", str(pdf_path))
    page.click("#new-appeal button[type=submit]")
    page.wait_for_url(re.compile(r".*/registry/appeals/[0-9a-f-]{36}$"))
    assert page.inner_text(".appeal-category") == "Dispute"
    assert page.inner_text(".appeal-status") == "New"
    assert INTERACTION_ID in page.inner_text("code.interaction-id")
    shot(page, "dispute-filed")
    return page.url.rsplit("/", 1)[1]


def _provider_answers(page, origin: str, appeal_id: str) -> None:
    page.click("nav.tabs >> text=Appeals")
    page.click(f".addressed tr[data-appeal-id='{appeal_id}'] a")
    page.wait_for_url(f"{origin}/registry/appeals/{appeal_id}")
    page.fill("#comment-text", "Our logs show one answer; we agree it was billed twice.")
    page.click("#comment button[type=submit]")
    page.wait_for_url(f"{origin}/registry/appeals/{appeal_id}")
    assert "we agree it was billed twice" in page.inner_text(".appeal-history")


def _operator_resolves_with_a_refund(page, origin: str, appeal_id: str) -> None:
    page.click("nav.tabs >> text=Appeals")
    page.click("nav.team-tabs >> text=Billing")
    page.click(f".queue tr[data-appeal-id='{appeal_id}'] a")
    page.wait_for_url(f"{origin}/registry/appeals/{appeal_id}")
    page.click("#assign button[type=submit]")
    page.wait_for_url(f"{origin}/registry/appeals/{appeal_id}")
    assert page.inner_text(".appeal-status") == "In progress"
    page.select_option("#outcome", "upheld")
    page.fill("#summary", "Billed twice for one call: refunded on the next invoice.")
    page.fill("#amount", "12.50")
    page.check("input[name=direction][value=refund]")
    page.fill("#adjustment_reason", "Refund: a balances call billed twice")
    page.click("#resolve button[type=submit]")
    page.wait_for_url(f"{origin}/registry/appeals/{appeal_id}")
    assert page.inner_text(".appeal-status") == "Resolved"
    assert page.inner_text(".appeal-outcome") == "Upheld"
    shot(page, "dispute-resolved")


def _the_refund_is_recorded(live_server, appeal_id: str, parties: tuple[str, str]) -> BillingAdjustment:
    """The resolution and its adjustment (a refund: negative, for the next period closed)."""
    with live_server.app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        assert (appeal.status, appeal.outcome, appeal.category, appeal.team) == (
            "resolved",
            "upheld",
            "dispute",
            "billing",
        )
        adjustment = db.session.get(BillingAdjustment, appeal.adjustment_id)
        assert (adjustment.api_user_id, adjustment.provider_id) == parties
        assert (adjustment.amount_tiyn, adjustment.appeal_id, adjustment.period) == (-1250, appeal_id, None)
        assert adjustment.reason == "Refund: a balances call billed twice"
        db.session.expunge(adjustment)
        return adjustment


def _last_month_invoiced(qarjy: str, altyn: str, last_month: Period) -> None:
    """The disputed call, priced 12.50 by the tariff in force, on last month's invoice (closed)."""
    api = add_api(provider_id=altyn, base_url="https://api.altyn.kz/ob", publish=True)
    db.session.add(
        Tariff(
            id=str(uuid.uuid4()),
            api_id=api.id,
            endpoint=BALANCES,
            price_tiyn=1250,
            effective_from=last_month.starts_at,
            set_by="arman@altyn.kz",
            created_at=last_month.starts_at,
        )
    )
    db.session.commit()
    routed_call(qarjy, altyn, INTERACTION_ID, api_id=api.id, at=(last_month.starts_at + 86400) * 1000)
    close_period(last_month.name, "aliya@senim.kz")
    [invoice] = invoices_of(qarjy)
    assert (invoice.period, invoice.total_tiyn) == (last_month.name, 1250)


def _operator_closes_the_month(page, origin: str, live_server, month: Period) -> None:
    """The month ends and its grace passes (the server's clock moves on); the operator closes it in
    the console, confirming with the passkey first (the sign-in is no longer fresh)."""
    live_server.clock.advance(month.ends_at + CLOSING_GRACE + 1 - live_server.clock.now())
    page.click("nav.tabs >> text=Billing")
    page.fill("#period", month.name)
    page.click("text=Close the month")
    page.wait_for_url(re.compile(r".*/registry/confirm\?next=.*"))
    page.click("#passkey-sign-in")
    page.wait_for_url(f"{origin}/registry/console/billing")
    page.fill("#period", month.name)
    page.click("text=Close the month")
    page.wait_for_url(f"{origin}/registry/console/billing")
    assert month.name in page.inner_text(f"article.period[data-period='{month.name}'] h3")


def _the_refund_is_on_the_next_invoice(page, origin: str, month: Period) -> None:
    page.click("nav.tabs >> text=Billing")
    page.click(f"text=SNM-{month.name}-0001")
    page.wait_for_url(re.compile(r".*/registry/billing/invoices/[0-9a-f-]{36}$"))
    [line] = page.locator(".invoice-lines tr.line-adjustment").all()
    assert "Refund: a balances call billed twice" in line.inner_text()
    assert "-12.50" in line.inner_text()
    assert page.inner_text(".invoice-lines tr.total td") == "-12.50"
    shot(page, "dispute-refund-on-the-invoice")


def test_a_dispute_about_a_routed_call_is_answered_and_resolved_with_a_refund(live_server, tmp_path):
    origin = staff_origin(live_server.issuer)
    pdf_path = tmp_path / "usage.pdf"
    pdf_path.write_bytes(PDF)
    now = int(live_server.clock.now())
    this_month, last_month = period_bounds(period_of(now)), period_bounds(previous_period(now))
    with live_server.app.app_context():
        qarjy, altyn = fintech().id, bank().id
        _last_month_invoiced(qarjy, altyn, last_month)
        # the dispute is handled in this month's last minutes (within a fresh proof of the close)
        live_server.clock.advance(this_month.ends_at - 240 - now)
        _m, finance_secret = invite(
            participant_id=qarjy, email="dana@qarjy.kz", role="finance", invited_by=None
        )
        _m, developer_secret = invite(
            participant_id=altyn, email="arman@altyn.kz", role="developer", invited_by=None
        )
        _m, operator_secret = invite(
            participant_id=None, email="aliya@senim.kz", role=OPERATOR, invited_by=None
        )
        db.session.remove()
    with chromium_with_passkeys() as new_person:
        user_page, _cdp, _authenticator = new_person()
        _join(user_page, origin, finance_secret, "Dana Omarova", "/registry/cabinet")
        appeal_id = _api_user_files_a_dispute(user_page, origin, pdf_path)

        provider_page, _cdp, _authenticator = new_person()
        _join(provider_page, origin, developer_secret, "Arman Bekov", "/registry/cabinet")
        _provider_answers(provider_page, origin, appeal_id)

        operator_page, _cdp, _authenticator = new_person()
        _join(operator_page, origin, operator_secret, "Aliya Nurpeisova", "/registry/console")
        _operator_resolves_with_a_refund(operator_page, origin, appeal_id)

        user_page.reload()
        assert user_page.inner_text(".appeal-status") == "Resolved"
        assert "A billing adjustment is recorded" in user_page.inner_text(".resolution")
        _the_refund_is_recorded(live_server, appeal_id, (qarjy, altyn))

        _operator_closes_the_month(operator_page, origin, live_server, this_month)
        _the_refund_is_on_the_next_invoice(user_page, origin, this_month)
