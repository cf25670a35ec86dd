"""The billing documents: an invoice and a period's settlement statement, as PDF and CSV.

Made only from the frozen rows of a closed period (``registry.billing.close_period``), so the
same document comes out every time: the PDF's dates are the period's closing time, never now.
Amounts are tenge with two decimals (``format_tenge``: exact, tiyn are integers). The PDF uses
the shipped DejaVu font so Kazakh and Russian names print; its subject (document metadata)
carries the number and the total, for machines and tests that do not parse PDF text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from registry.accreditation_certificate import certificate_font
from registry.billing import ADJUSTMENT, KAZAKHSTAN, invoice_lines, settlement_of
from registry.models import BillingPeriod, Invoice
from registry.spreadsheet import csv_text
from registry.tariffs import format_tenge

CURRENCY = "KZT"


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(KAZAKHSTAN).strftime("%Y-%m-%d %H:%M (UTC+5)")


def _csv(rows: list[list[object]]) -> bytes:
    return csv_text(rows).encode("utf-8")


# -- the invoice ----------------------------------------------------------------------------------
INVOICE_COLUMNS = [
    "line",
    "kind",
    "provider",
    "provider_id",
    "api_id",
    "endpoint",
    "calls",
    "unit_price_kzt",
    "amount_kzt",
    "reason",
]


def invoice_csv(invoice: Invoice) -> bytes:
    """One row per line (calls, then adjustments with their reason), then the totals."""
    rows: list[list[object]] = [INVOICE_COLUMNS]
    for line in invoice_lines(invoice.id):
        rows.append(
            [
                line.position,
                line.kind,
                line.provider_name,
                line.provider_id,
                line.api_id or "",
                line.endpoint or "",
                "" if line.calls is None else line.calls,
                "" if line.unit_price_tiyn is None else format_tenge(line.unit_price_tiyn),
                format_tenge(line.amount_tiyn),
                line.reason or "",
            ]
        )
    for label, amount in (
        ("calls_total", invoice.calls_tiyn),
        ("adjustments_total", invoice.adjustments_tiyn),
        ("total", invoice.total_tiyn),
    ):
        rows.append(["", label, "", "", "", "", "", "", format_tenge(amount), ""])
    return _csv(rows)


def _new_pdf(title: str, subject: str, closed_at: int):  # noqa: ANN202 - fpdf.FPDF, imported late
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_subject(subject)
    pdf.set_creator("Senim")
    pdf.set_creation_date(datetime.fromtimestamp(closed_at, UTC))
    pdf.add_font("DejaVu", "", str(certificate_font()))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    return pdf


_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}


def _row(pdf, cells: list[tuple[str, float, str]], height: float = 6) -> None:  # noqa: ANN001
    """One table row: (text, width in mm, alignment) per cell, the row as high as its tallest cell."""
    top, left = pdf.get_y(), pdf.l_margin
    if top + height * 3 > pdf.h - pdf.b_margin:
        pdf.add_page()
        top = pdf.get_y()
    bottom = top
    x = left
    for text, width, align in cells:
        pdf.set_xy(x, top)
        pdf.multi_cell(width, height, text, border=0, align=align, **_LINE)
        bottom = max(bottom, pdf.get_y())
        x += width
    pdf.set_xy(left, bottom)


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice for people: who owes what to whom for which calls, with the adjustments and totals."""
    total = format_tenge(invoice.total_tiyn)
    pdf = _new_pdf(
        f"Invoice {invoice.number}",
        f"Invoice {invoice.number}, period {invoice.period}, total {total} {CURRENCY}",
        invoice.issued_at,
    )
    pdf.set_font("DejaVu", size=16)
    pdf.multi_cell(0, 9, "Шот / Счёт / Invoice " + invoice.number, **_LINE)
    pdf.set_font("DejaVu", size=10)
    for label, value in (
        ("Period / Период", f"{invoice.period} (UTC+5)"),
        ("API user / API пользователь", f"{invoice.api_user_name} (BIN {invoice.api_user_bin})"),
        ("Issued / Выставлен", _when(invoice.issued_at)),
        ("Payable to / Получатель", "Senim, the platform operator, who settles with each provider"),
    ):
        pdf.multi_cell(0, 6, f"{label}: {value}", **_LINE)
    pdf.ln(4)
    widths = (40, 62, 18, 28, 32)
    header = ("Provider / Провайдер", "Endpoint / Reason", "Calls", "Unit, KZT", "Amount, KZT")
    _row(pdf, [(text, w, "L") for text, w in zip(header, widths, strict=True)])
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(widths), pdf.get_y())
    for line in invoice_lines(invoice.id):
        if line.kind == ADJUSTMENT:
            what, calls, unit = f"Adjustment / Корректировка: {line.reason}", "", ""
        else:
            what, calls, unit = line.endpoint or "", str(line.calls), format_tenge(line.unit_price_tiyn or 0)
        texts = (line.provider_name, what, calls, unit, format_tenge(line.amount_tiyn))
        aligns = ("L", "L", "R", "R", "R")
        _row(pdf, list(zip(texts, widths, aligns, strict=True)))
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(widths), pdf.get_y())
    pdf.ln(2)
    for label, amount in (
        ("Calls / Вызовы", invoice.calls_tiyn),
        ("Adjustments / Корректировки", invoice.adjustments_tiyn),
        ("Total / Итого", invoice.total_tiyn),
    ):
        _row(pdf, [(label, sum(widths[:4]), "R"), (f"{format_tenge(amount)} {CURRENCY}", widths[4], "R")])
    pdf.ln(4)
    pdf.set_font("DejaVu", size=8)
    pdf.multi_cell(
        0,
        5,
        "Calls routed by Senim and answered by the provider (status below 500), each at the provider's "
        "tariff in force at its time; provider-caused failures and refusals are not charged. "
        "Amounts are exact in tiyn.",
        **_LINE,
    )
    return bytes(pdf.output())


# -- the settlement statement ----------------------------------------------------------------------
SETTLEMENT_COLUMNS = [
    "participant",
    "participant_id",
    "bin",
    "owes_as_api_user_kzt",
    "receives_as_provider_kzt",
    "net_kzt",
    "pays_operator_kzt",
    "operator_pays_kzt",
]


def _settlement_rows(period: BillingPeriod) -> list[list[str]]:
    rows = []
    for line in settlement_of(period.period):
        rows.append(
            [
                line.participant_name,
                line.participant_id,
                line.participant_bin,
                format_tenge(line.owes_tiyn),
                format_tenge(line.receives_tiyn),
                format_tenge(line.net_tiyn),
                format_tenge(max(0, -line.net_tiyn)),
                format_tenge(max(0, line.net_tiyn)),
            ]
        )
    return rows


def settlement_totals(period: BillingPeriod) -> dict[str, int]:
    """What participants pay the operator, what it pays them, and the balance (always zero)."""
    lines = settlement_of(period.period)
    to_operator = sum(max(0, -line.net_tiyn) for line in lines)
    from_operator = sum(max(0, line.net_tiyn) for line in lines)
    return {
        "to_operator": to_operator,
        "from_operator": from_operator,
        "balance": to_operator - from_operator,
    }


def settlement_csv(period: BillingPeriod) -> bytes:
    """One row per participant, then the operator's totals (which balance to zero)."""
    totals = settlement_totals(period)
    rows: list[list[object]] = [SETTLEMENT_COLUMNS, *_settlement_rows(period)]
    rows.append(
        [
            "operator",
            "",
            "",
            "",
            "",
            format_tenge(totals["balance"]),
            format_tenge(totals["to_operator"]),
            format_tenge(totals["from_operator"]),
        ]
    )
    return _csv(rows)


def settlement_pdf(period: BillingPeriod) -> bytes:
    """The period's statement: per participant what it owes, receives and the net, through the operator."""
    totals = settlement_totals(period)
    pdf = _new_pdf(
        f"Settlement statement {period.period}",
        f"Settlement statement {period.period}, paid to the operator {format_tenge(totals['to_operator'])} "
        f"{CURRENCY}, paid by the operator {format_tenge(totals['from_operator'])} {CURRENCY}",
        period.closed_at,
    )
    pdf.set_font("DejaVu", size=16)
    pdf.multi_cell(0, 9, f"Есеп айырысу / Взаиморасчёты / Settlement statement {period.period}", **_LINE)
    pdf.set_font("DejaVu", size=10)
    pdf.multi_cell(
        0, 6, f"Closed / Закрыт: {_when(period.closed_at)}; calls charged: {period.calls_charged}", **_LINE
    )
    pdf.ln(4)
    widths = (54, 30, 30, 30, 36)
    header = ("Participant / Участник", "Owes, KZT", "Receives, KZT", "Net, KZT", "Settles with operator")
    _row(pdf, [(text, w, "L") for text, w in zip(header, widths, strict=True)])
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(widths), pdf.get_y())
    for line in settlement_of(period.period):
        if line.net_tiyn < 0:
            settles = f"pays {format_tenge(-line.net_tiyn)}"
        elif line.net_tiyn > 0:
            settles = f"is paid {format_tenge(line.net_tiyn)}"
        else:
            settles = "—"
        texts = (
            f"{line.participant_name} (BIN {line.participant_bin})",
            format_tenge(line.owes_tiyn),
            format_tenge(line.receives_tiyn),
            format_tenge(line.net_tiyn),
            settles,
        )
        _row(pdf, list(zip(texts, widths, ("L", "R", "R", "R", "R"), strict=True)))
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(widths), pdf.get_y())
    pdf.ln(2)
    for label, amount in (
        ("Paid to the operator / Оператору", totals["to_operator"]),
        ("Paid by the operator / Оператором", totals["from_operator"]),
        ("Balance / Сальдо", totals["balance"]),
    ):
        _row(pdf, [(label, sum(widths[:4]), "R"), (f"{format_tenge(amount)} {CURRENCY}", widths[4], "R")])
    return bytes(pdf.output())
