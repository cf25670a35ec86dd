"""CSV documents a person opens in a spreadsheet: the invoices, the settlement statement, the reports.

A cell is written as text and never run: a text starting like a formula
(``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading
apostrophe (OWASP, CSV injection) — participants name themselves, and
reasons and names reach other participants' spreadsheets. Numbers, negative
amounts included, are left as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def safe_cell(cell: object) -> object:
    """The cell, with an apostrophe before a text that a spreadsheet would run as a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _is_number(cell):
        return "'" + cell
    return cell


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV (RFC 4180 line ends), every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
