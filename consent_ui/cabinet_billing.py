"""Billing in the cabinet and the console: invoices, receivables, tariffs, caps, periods, adjustments.

- A participant's admin or finance staff (``see_billing``) see the invoices of
  their organisation as an API user (each with its lines and its PDF and CSV)
  and what they receive as a provider; another participant's invoice is
  "not found".
- A provider's admin or finance staff (``set_tariffs``) set the price of each
  endpoint of their API from a date; the regulator's cap in force is shown,
  and a price above it is refused with the cap named.
- Operators set the caps (``set_caps``), close a month
  (``close_billing_periods``, a sensitive action), see every invoice and each
  period's settlement statement, and record an adjustment with its reason,
  which lands on the next period closed.

The documents are the frozen rows of a closed period (``registry.billing``,
``registry.billing_documents``): the pages never price anything again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from consent_ui.cabinet_apis import _visible_api
from consent_ui.staff_pages import (
    NotFound,
    act_then_return,
    bp,
    operator_only,
    participant_of,
    sensitive,
    signed_in,
)
from registry import billing
from registry import billing_documents as documents
from registry.apis import ApiRegistryError
from registry.models import BillingAdjustment, BillingPeriod, Invoice
from registry.participants import get_participant, list_participants
from registry.staff import StaffMember, require_permission
from registry.tariffs import (
    BILLED_ENDPOINTS,
    TariffError,
    cap_at,
    format_tenge,
    set_cap,
    set_tariff,
    tariffs_of,
)
from senim import clock
from senim.database import db

LINE_KIND_WORDS = {"calls": _l("Calls"), "adjustment": _l("Adjustment")}


@bp.app_template_filter("tenge")
def _tenge(tiyn: int | None) -> str:
    return "—" if tiyn is None else format_tenge(tiyn)


def _actor(member: StaffMember) -> str:
    return member.email if len(member.email) <= 64 else member.id


def _starts(text: str | None) -> int | None:
    """A date typed in a form as its first moment in Kazakhstan time; empty or today: now."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise TariffError("a start date is written YYYY-MM-DD") from None
    if day == _today():
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=billing.KAZAKHSTAN).timestamp())


def _today() -> date:
    return datetime.fromtimestamp(clock.now_int(), billing.KAZAKHSTAN).date()


def _download(body: bytes, filename: str, mimetype: str) -> Response:
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- the cabinet: invoices and receivables -----------------------------------------------------------
@bp.get("/billing")
@signed_in
def billing_page(member: StaffMember) -> str:
    participant_id = participant_of(member)
    require_permission(member, "see_billing")
    positions = [
        (period, billing.settlement_line_of(period.period, participant_id))
        for period in billing.closed_periods()
    ]
    return render_template(
        "consent_ui/registry/billing.html",
        participant=get_participant(participant_id),
        invoices=billing.invoices_of(participant_id),
        receivables=billing.receivables_of(participant_id),
        positions=[(period, line) for period, line in positions if line is not None],
    )


def _visible_invoice(member: StaffMember, invoice_id: str) -> Invoice:
    """The invoice, if the member's organisation is its API user (or the member is an operator)."""
    if not member.is_operator:
        participant_id = participant_of(member)
        require_permission(member, "see_billing")
    invoice = billing.get_invoice(invoice_id)
    if invoice is None or not (member.is_operator or invoice.api_user_id == participant_id):
        raise NotFound()
    return invoice


@bp.get("/billing/invoices/<invoice_id>")
@signed_in
def invoice_page(member: StaffMember, invoice_id: str) -> str:
    invoice = _visible_invoice(member, invoice_id)
    return render_template(
        "consent_ui/registry/invoice.html",
        invoice=invoice,
        lines=billing.invoice_lines(invoice.id),
        LINE_KIND_WORDS=LINE_KIND_WORDS,
    )


@bp.get("/billing/invoices/<invoice_id>/invoice.pdf")
@signed_in
def invoice_pdf(member: StaffMember, invoice_id: str) -> Response:
    invoice = _visible_invoice(member, invoice_id)
    return _download(documents.invoice_pdf(invoice), f"{invoice.number}.pdf", "application/pdf")


@bp.get("/billing/invoices/<invoice_id>/invoice.csv")
@signed_in
def invoice_csv(member: StaffMember, invoice_id: str) -> Response:
    invoice = _visible_invoice(member, invoice_id)
    return _download(documents.invoice_csv(invoice), f"{invoice.number}.csv", "text/csv; charset=utf-8")


# -- the provider's tariffs --------------------------------------------------------------------------
def _tariffs_page(member: StaffMember, api_id: str, status: int = 200, **context: object) -> Response:
    api = _visible_api(member, api_id)
    response = make_response(
        render_template(
            "consent_ui/registry/tariffs.html",
            api=api,
            provider=get_participant(api.provider_id),
            in_force=billing.prices_in_force(api.id, clock.now_int()),
            history=tariffs_of(api.id),
            endpoints=BILLED_ENDPOINTS,
            may_set=not member.is_platform and member.may("set_tariffs"),
            form=context.pop("form", {}),
            **context,
        )
    )
    response.status_code = status
    return response


@bp.get("/apis/<api_id>/tariffs")
@signed_in
def tariffs_page(member: StaffMember, api_id: str) -> Response:
    return _tariffs_page(member, api_id)


@bp.post("/apis/<api_id>/tariffs")
@sensitive
def set_tariff_page(member: StaffMember, api_id: str) -> Response:
    require_permission(member, "set_tariffs")
    participant_of(member)
    api = _visible_api(member, api_id)
    form = request.form
    try:
        set_tariff(
            api.id,
            form.get("endpoint", ""),
            form.get("price", ""),
            _actor(member),
            effective_from=_starts(form.get("starts")),
        )
    except (TariffError, ApiRegistryError) as refusal:
        db.session.rollback()
        return _tariffs_page(member, api.id, 400, error=str(refusal), form=form)
    flash(str(_l("The price is set.")))
    return redirect(url_for("staff_ui.tariffs_page", api_id=api.id), code=303)


# -- the console: caps ----------------------------------------------------------------------------------
def _caps_page(member: StaffMember, status: int = 200, **context: object) -> Response:
    now = clock.now_int()
    history = billing.cap_history()
    response = make_response(
        render_template(
            "consent_ui/registry/caps.html",
            in_force=[(endpoint, cap_at(endpoint, now)) for endpoint in BILLED_ENDPOINTS],
            history=history,
            endpoints=BILLED_ENDPOINTS,
            may_set=member.may("set_caps"),
            form=context.pop("form", {}),
            **context,
        )
    )
    response.status_code = status
    return response


@bp.get("/console/caps")
@signed_in
def console_caps(member: StaffMember) -> Response:
    return _caps_page(operator_only(member))


@bp.post("/console/caps")
@sensitive
def set_cap_page(member: StaffMember) -> Response:
    require_permission(operator_only(member), "set_caps")
    form = request.form
    try:
        set_cap(form.get("endpoint", ""), form.get("cap", ""), _actor(member), _starts(form.get("starts")))
    except TariffError as refusal:
        db.session.rollback()
        return _caps_page(member, 400, error=str(refusal), form=form)
    flash(str(_l("The cap is set.")))
    return redirect(url_for("staff_ui.console_caps"), code=303)


# -- the console: periods, invoices, settlement, adjustments --------------------------------------------
@bp.get("/console/billing")
@signed_in
def console_billing(member: StaffMember) -> str:
    operator_only(member)
    periods = billing.closed_periods()
    return render_template(
        "consent_ui/registry/console_billing.html",
        periods=[(period, billing.invoices_of_period(period.period)) for period in periods],
        pending=billing.pending_adjustments(),
        participants=list_participants(),
        names={p.id: p.name for p in list_participants()},
        last_month=billing.previous_period(clock.now_int()),
        new_adjustment_id=str(uuid.uuid4()),  # a repeated submission of the form records it once
        may_close=member.may("close_billing_periods"),
    )


@bp.post("/console/billing/close")
@sensitive
def close_period_page(member: StaffMember) -> Response:
    require_permission(operator_only(member), "close_billing_periods")
    name = request.form.get("period", "")

    def close() -> None:
        billing.close_period(name, _actor(member))

    return act_then_return(
        close, url_for("staff_ui.console_billing"), _l("The period is closed: its invoices are issued.")
    )


@bp.post("/console/billing/adjustments")
@sensitive
def record_adjustment_page(member: StaffMember) -> Response:
    require_permission(operator_only(member), "close_billing_periods")
    form = request.form

    def record() -> None:
        adjustment_id = form.get("adjustment_id") or None
        try:
            billing.record_adjustment(
                api_user_id=form.get("api_user_id", ""),
                provider_id=form.get("provider_id", ""),
                amount_tiyn=billing.parse_adjustment(form.get("amount", "")),
                reason=form.get("reason", ""),
                actor=_actor(member),
                adjustment_id=adjustment_id,
            )
            db.session.commit()
        except IntegrityError:  # the same form submitted twice at once: the first one is stored
            db.session.rollback()
            if adjustment_id is None or db.session.get(BillingAdjustment, adjustment_id) is None:
                raise

    return act_then_return(
        record,
        url_for("staff_ui.console_billing"),
        _l("The adjustment is recorded: it lands on the next period closed."),
    )


def _closed(name: str) -> BillingPeriod:
    try:
        period = billing.closed_period(name)
    except billing.BillingError:
        raise NotFound() from None
    if period is None:
        raise NotFound()
    return period


@bp.get("/console/billing/<period>")
@signed_in
def console_settlement(member: StaffMember, period: str) -> str:
    operator_only(member)
    closed = _closed(period)
    return render_template(
        "consent_ui/registry/settlement.html",
        period=closed,
        lines=billing.settlement_of(closed.period),
        totals=documents.settlement_totals(closed),
        invoices=billing.invoices_of_period(closed.period),
    )


@bp.get("/console/billing/<period>/settlement.pdf")
@signed_in
def settlement_pdf(member: StaffMember, period: str) -> Response:
    operator_only(member)
    closed = _closed(period)
    return _download(documents.settlement_pdf(closed), f"settlement-{closed.period}.pdf", "application/pdf")


@bp.get("/console/billing/<period>/settlement.csv")
@signed_in
def settlement_csv(member: StaffMember, period: str) -> Response:
    operator_only(member)
    closed = _closed(period)
    return _download(
        documents.settlement_csv(closed), f"settlement-{closed.period}.csv", "text/csv; charset=utf-8"
    )
