"""Reports in the cabinet, and the platform's aggregate reports for operators and the regulator.

- ``/registry/reports``: a participant's staff (``see_reports``: every
  role) see their organisation's traffic — the calls it made and those made
  to it — for a range of days in Kazakhstan time: charts of calls, error
  rate and latency by day, and the tables (``registry.reports``), each
  exported as CSV at ``/registry/reports.csv?table=…&from=…&to=…``.
- ``/registry/console/reports``: the platform's staff
  (``read_aggregate_reports``: operators and the regulator) see the same
  figures over the whole platform, a table per participant, and each
  participant's report (``?participant=<id>``). Read-only: the regulator's
  landing page, and the only section of the staff pages the regulator has
  besides the public ones and its own security.

Aggregates only: counts, shares, latencies; participants by name; never a
customer, an account or a single call.
"""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from consent_ui import report_charts
from consent_ui.staff_pages import NotFound, bp, participant_of, signed_in
from idp.consents.counts import consent_counts
from registry import reports
from registry.participants import get_participant
from registry.reports import DayRange, ReportRangeError
from registry.spreadsheet import csv_text
from registry.staff import StaffMember, require_permission

#: The columns' headings on the pages (the CSV keeps the keys, for machines).
COLUMN_WORDS = {
    "day": _l("Day"),
    "api": _l("API"),
    "provider": _l("Provider"),
    "endpoint": _l("Endpoint"),
    "direction": _l("Direction"),
    "counterparty": _l("Counterparty"),
    "participant": _l("Participant"),
    "calls": _l("Calls"),
    "errors": _l("Errors"),
    "error_rate": _l("Error rate, %"),
    "provider_errors": _l("Provider's errors"),
    "platform_refusals": _l("Refused by the platform"),
    "p50_ms": _l("p50, ms"),
    "p95_ms": _l("p95, ms"),
    "p99_ms": _l("p99, ms"),
    "outcome": _l("Outcome"),
    "cause": _l("Caused by"),
    "status": _l("HTTP status"),
    "share_of_calls": _l("Share of calls, %"),
    "requested": _l("Consents requested"),
    "authorised": _l("Consents authorised"),
    "revoked": _l("Consents revoked"),
    "active_now": _l("Consents active now"),
    "made_calls": _l("Calls made"),
    "made_errors": _l("Errors of calls made"),
    "made_error_rate": _l("Error rate of calls made, %"),
    "received_calls": _l("Calls received"),
    "received_errors": _l("Errors of calls received"),
    "received_error_rate": _l("Error rate of calls received, %"),
}
TABLE_WORDS = {
    "summary": _l("Summary"),
    "usage_by_day": _l("Usage by day"),
    "usage_by_api": _l("Usage by API"),
    "usage_by_endpoint": _l("Usage by endpoint"),
    "usage_by_counterparty": _l("Usage by counterparty"),
    "errors_by_outcome": _l("Errors by outcome"),
    "consents": _l("Consents"),
    "by_participant": _l("By participant"),
}
#: Cells of the tables that are words, shown in the page's language.
CELL_WORDS = {
    reports.MADE: _l("you called"),
    reports.RECEIVED: _l("called you"),
    "provider": _l("the provider"),
    "platform": _l("the platform (refused)"),
}


def _chart_words() -> dict[str, str]:
    return {
        "calls": str(_l("calls")),
        "errors": str(_l("errors")),
        "successful": str(_l("successful")),
        "provider": str(_l("the provider's errors")),
        "platform": str(_l("refused by the platform")),
    }


def figures_of(day_range: DayRange, participant_id: str | None) -> reports.Report:
    """The registry's figures with the consents the authorization server counts."""
    return reports.report(day_range, participant_id, consents=consent_counts(day_range, participant_id))


def _range_asked() -> DayRange:
    return reports.day_range(request.args.get("from"), request.args.get("to"))


def _report_page(endpoint: str, participant_id: str | None, **context: object) -> Response:
    """The report page: the range form, the charts and the tables (or the range's refusal, 400)."""
    aggregate = endpoint == "staff_ui.console_reports"
    link_args = {"participant": participant_id} if aggregate and participant_id else {}
    csv_endpoint = "staff_ui.console_reports_csv" if aggregate else "staff_ui.reports_csv"
    try:
        day_range = _range_asked()
    except ReportRangeError as refusal:
        response = make_response(
            render_template(
                "consent_ui/registry/reports.html",
                endpoint=endpoint,
                csv_endpoint=csv_endpoint,
                link_args=link_args,
                range_error=_say_range(refusal),
                asked={"from": request.args.get("from", ""), "to": request.args.get("to", "")},
                aggregate=aggregate,
                **context,
            )
        )
        response.status_code = 400
        return response
    report = figures_of(day_range, participant_id)
    words = _chart_words()
    response = make_response(
        render_template(
            "consent_ui/registry/reports.html",
            endpoint=endpoint,
            csv_endpoint=csv_endpoint,
            link_args=link_args,
            report=report,
            tables=reports.tables(report),
            charts=[
                (_l("Calls by day"), report_charts.calls_by_day(report.by_day, words), "usage_by_day"),
                (
                    _l("Error rate by day"),
                    report_charts.error_rate_by_day(report.by_day, words),
                    "usage_by_day",
                ),
                (
                    _l("Latency by day: p50, p95, p99"),
                    report_charts.latency_by_day(report.by_day, words),
                    "usage_by_day",
                ),
            ],
            asked={"from": day_range.first.isoformat(), "to": day_range.last.isoformat()},
            COLUMN_WORDS=COLUMN_WORDS,
            TABLE_WORDS=TABLE_WORDS,
            CELL_WORDS=CELL_WORDS,
            aggregate=aggregate,
            **context,
        )
    )
    return response


def _say_range(refusal: ReportRangeError) -> object:
    text = str(refusal)
    if "after the last day" in text:
        return _l("The first day is after the last day.")
    if "at most" in text:
        return _l("A report covers at most %(days)s days: choose a shorter range.", days=reports.MAX_DAYS)
    return _l("Write the days as YYYY-MM-DD (for example 2025-03-01).")


def _csv(participant_id: str | None, label: str) -> Response:
    """One table of the report as CSV (header: the column keys), or 400/404."""
    try:
        day_range = _range_asked()
    except ReportRangeError as refusal:
        return Response(str(_say_range(refusal)) + "\n", status=400, mimetype="text/plain")
    name = request.args.get("table", "")
    table = (
        reports.tables(figures_of(day_range, participant_id)).get(name) if name in reports.TABLES else None
    )
    if table is None:
        raise NotFound()
    text = csv_text([table.columns, *table.rows])
    filename = f"senim-{label}-{name}-{day_range.first.isoformat()}-{day_range.last.isoformat()}.csv"
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- a participant's reports -----------------------------------------------------------------------
def _reporting_participant(member: StaffMember) -> str:
    require_permission(member, "see_reports")
    return participant_of(member)


@bp.get("/reports")
@signed_in
def reports_page(member: StaffMember) -> Response:
    if member.is_platform:
        return redirect(url_for("staff_ui.console_reports"), code=303)
    participant_id = _reporting_participant(member)
    return _report_page("staff_ui.reports_page", participant_id, participant=get_participant(participant_id))


@bp.get("/reports.csv")
@signed_in
def reports_csv(member: StaffMember) -> Response:
    return _csv(_reporting_participant(member), "participant")


# -- the platform's aggregate reports (operators, the regulator) --------------------------------------
def _aggregate_reader(member: StaffMember) -> StaffMember:
    """The member, if the platform's and allowed to read aggregate reports: a participant's staff
    find no such page."""
    if not member.is_platform:
        raise NotFound()
    return require_permission(member, "read_aggregate_reports")


def _participant_asked() -> str | None:
    asked = request.args.get("participant")
    if not asked:
        return None
    participant = get_participant(asked)
    if participant is None:
        raise NotFound()
    return participant.id


@bp.get("/console/reports")
@signed_in
def console_reports(member: StaffMember) -> Response:
    _aggregate_reader(member)
    participant_id = _participant_asked()
    participant = get_participant(participant_id) if participant_id else None
    return _report_page("staff_ui.console_reports", participant_id, participant=participant)


@bp.get("/console/reports.csv")
@signed_in
def console_reports_csv(member: StaffMember) -> Response:
    _aggregate_reader(member)
    participant_id = _participant_asked()
    return _csv(participant_id, "participant" if participant_id else "platform")
