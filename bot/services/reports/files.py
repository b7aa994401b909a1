"""The ledger as files: an XLSX workbook (one sheet per `Sheet`, headings bold and frozen,
local times, yuan) and a sheet as CSV (UTF-8 with a BOM for Excel), with text that a
spreadsheet could run as a formula neutralised (OWASP "CSV Injection"), and the file names."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from bot.services.reports.sheets.sheet import Sheet

# A spreadsheet reads a text cell that begins with one of these as a formula (=HYPERLINK(...)
# opens a link, DDE runs a program): OWASP "CSV Injection".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet could read as a formula, prefixed with a single quote (OWASP):
    shown literally, never evaluated. Only text: numbers (an amount of -3.5) stay numbers."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _xlsx_text(text: str) -> str:
    # Control characters XML cannot hold (openpyxl refuses the whole workbook): dropped.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", text))


def _xlsx_cell(ws: Any, value: Any, is_money: bool) -> Any:
    """A value as a write-only cell: text always a string cell (never a formula), local times
    and yuan formatted; anything else as it is (openpyxl types it)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str):
        text = _xlsx_text(value)
        if text == value and not text.startswith("#"):
            return text  # plain text: openpyxl types it as a string itself
        # Neutralised, or "#N/A"-like (openpyxl would make an error cell of it).
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if is_money and value is not None:
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "0.00"
        return cell
    return value


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    """The ledger as an XLSX workbook: one sheet each for orders, order events, volunteers,
    notices, notice receipts and the audit log; Chinese headings, local times, yuan.

    Write-only mode (rows streamed, no cell objects kept), and every text is a string cell:
    a name like `=HYPERLINK(...)` is neutralised and written as text, never as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title)
        # Column widths and the frozen heading must be set before the first row.
        for col, heading in enumerate(sheet.headings, start=1):
            ws.column_dimensions[get_column_letter(col)].width = max(10, len(heading) * 2 + 2)
        ws.freeze_panes = "A2"
        head = []
        for heading in sheet.headings:
            cell = WriteOnlyCell(ws, value=heading)
            cell.font = bold
            head.append(cell)
        ws.append(head)
        for row in sheet.rows:
            ws.append([_xlsx_cell(ws, v, i in sheet.money) for i, v in enumerate(row)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def csv_bytes(sheet: Sheet) -> bytes:
    """A sheet (the exports: the orders) as CSV, UTF-8 with a BOM so that Excel shows the
    Chinese. Text that Excel would read as a formula is neutralised (see `neutralise`)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(sheet.headings)
    for row in sheet.rows:
        w.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def file_name(day_from: date, day_to: date, ext: str) -> str:
    days = day_from.isoformat() if day_from == day_to else f"{day_from}_{day_to}"
    return f"台账_{days}.{ext}"
