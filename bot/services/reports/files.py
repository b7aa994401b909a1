"""The ledger as files: an XLSX workbook (`xlsx`: one sheet per `Sheet`, headings bold and frozen,
local times, yuan) and a sheet as CSV (UTF-8 with a BOM for Excel), with text that a
spreadsheet could run as a formula neutralised (OWASP "CSV Injection"), and the file names."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.book import ZH
from bot.services.reports.sheets.sheet import Sheet
from bot.services.reports.xlsx import workbook

LEDGER = N_("Ledger")

# A spreadsheet reads a text cell that begins with one of these as a formula (=HYPERLINK(...)
# opens a link, DDE runs a program): OWASP "CSV Injection".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet could read as a formula, prefixed with a single quote (OWASP):
    shown literally, never evaluated. Only text: numbers (an amount of -3.5) stay numbers."""
    return "'" + text if text.startswith(FORMULA_START) else text


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    """The ledger as an XLSX workbook: one sheet each for orders, order events, volunteers,
    notices, notice receipts, the care list and the audit log; headings in the reader's
    language, local times, yuan, columns sized to their cells, autofilters, totals rows.

    Written directly (`xlsx`), every text an inline string cell: a name like
    `=HYPERLINK(...)` is neutralised and written as text, never as a formula."""
    return workbook(sheets, neutralise, "".join(FORMULA_START))


def _csv_value(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return neutralise(value)
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None and value.year >= 1000:  # a local time: the same text, faster
            return value.isoformat(" ", "minutes")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def csv_bytes(sheet: Sheet) -> bytes:
    """A sheet (the exports: the orders) as CSV, UTF-8 with a BOM so that Excel shows the
    Chinese. Text that Excel would read as a formula is neutralised (see `neutralise`).

    The same headings and words as the sheet (a column means the same in both files), but
    only its rows: no totals row, so that each line after the heading is one order for a
    program reading it (or a count of lines)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(sheet.headings)
    for row in sheet.rows:
        w.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def file_name(day_from: date, day_to: date, ext: str, _: Gettext = ZH) -> str:
    """台账_2026-11-01_2026-11-23.xlsx (Ledger_… in English)."""
    days = day_from.isoformat() if day_from == day_to else f"{day_from}_{day_to}"
    return f"{_(LEDGER)}_{days}.{ext}"
