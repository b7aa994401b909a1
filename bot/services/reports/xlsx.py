"""The ledger's XLSX workbook, written directly: the few parts of an Office Open XML package a
spreadsheet needs (content types, relationships, workbook, styles, one worksheet per `Sheet`),
each sheet's XML streamed into the zip file row by row. What openpyxl's write-only mode wrote
(bold frozen headings, column widths, local times as dates, yuan as 0.00, every text an inline
string cell, never a formula), at a fraction of its cost: a month of a district's ledger is
millions of cells, and openpyxl spent ~0.1 ms on each.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from bot.services.reports.sheets.sheet import Sheet

_Neutralise = Callable[[str], str]

# Cell styles (cellXfs, in styles.xml): 0 plain, 1 a local time, 2 yuan, 3 a bold heading.
_TIME, _MONEY, _BOLD = 1, 2, 3
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (the 1900 date system, as Excel counts it)
_EPOCH_DAY = _EPOCH.date()

_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    "<sheets>{sheets}</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    "{sheets}"
    '<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/></Relationships>'
)
_SHEET_REL = (
    '<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet{n}.xml"/>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
    "<cols>{cols}</cols><sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"

# XML 1.0 cannot hold most control characters (dropped, as openpyxl's ILLEGAL_CHARACTERS_RE
# does); a carriage return is kept as a character reference (a parser would make it a line
# feed otherwise).
_TEXT = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\r": "&#13;",
        **{chr(c): None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))},
    }
)


def _column(n: int) -> str:
    """A column's letters: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f]")


def xml_text(text: str) -> str:
    """Text as XML character data (escaped; characters XML cannot hold dropped)."""
    return text if _SPECIAL.search(text) is None else text.translate(_TEXT)


def _serial(value: datetime | date) -> str:
    """A date or a local time as Excel's serial day number."""
    if isinstance(value, datetime):
        delta = (value if value.tzinfo is None else value.replace(tzinfo=None)) - _EPOCH
        return repr(delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400)
    return str((value - _EPOCH_DAY).days)


def _row(
    n: int, row: Sequence[Any], letters: list[str], money: frozenset[int], neutralise: _Neutralise
) -> str:
    """One row's XML: text as inline strings, numbers (yuan in 0.00), local times as dates;
    None and "" as empty cells."""
    cells = []
    for i, value in enumerate(row):
        kind = type(value)
        if value is None or value == "":
            continue
        ref = f"{letters[i]}{n}" if i < len(letters) else f"{_column(i)}{n}"
        if kind is str:
            text = xml_text(neutralise(value))
            cells.append(
                f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
            )
        elif kind is int or kind is float:
            style = f' s="{_MONEY}"' if i in money else ""
            cells.append(f'<c r="{ref}"{style}><v>{value!r}</v></c>')
        elif kind is datetime or kind is date:
            cells.append(f'<c r="{ref}" s="{_TIME}"><v>{_serial(value)}</v></c>')
        elif kind is bool:
            cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, int | float) and not isinstance(value, bool):  # an IntEnum...
            cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
        else:
            text = xml_text(neutralise(str(value)))
            cells.append(
                f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
            )
    return f'<row r="{n}">{"".join(cells)}</row>'


def _sheet_xml(sheet: Sheet, neutralise: _Neutralise) -> Iterator[str]:
    """A worksheet's XML, a few hundred rows per piece."""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{max(10, len(h) * 2 + 2)}" customWidth="1"/>'
        for i, h in enumerate(sheet.headings, start=1)
    )
    letters = [_column(i) for i in range(len(sheet.headings))]
    head = "".join(
        f'<c r="{letters[i]}1" t="inlineStr" s="{_BOLD}"><is><t xml:space="preserve">'
        f"{xml_text(h)}</t></is></c>"
        for i, h in enumerate(sheet.headings)
    )
    yield _SHEET_HEAD.format(cols=cols) + f'<row r="1">{head}</row>'
    money = sheet.money
    piece: list[str] = []
    for n, row in enumerate(sheet.rows, start=2):
        piece.append(_row(n, row, letters, money, neutralise))
        if len(piece) >= 500:
            yield "".join(piece)
            piece = []
    yield "".join(piece) + _SHEET_TAIL


def workbook(sheets: Iterable[Sheet], neutralise: _Neutralise) -> bytes:
    """The workbook of these sheets (each text passed through ``neutralise`` first)."""
    sheets = list(sheets)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        numbers = range(1, len(sheets) + 1)
        zf.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(n=n) for n in numbers)),
        )
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr(
            "xl/workbook.xml",
            _WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{xml_text(s.title)}" sheetId="{n}" r:id="rId{n}"/>'
                    for n, s in zip(numbers, sheets, strict=True)
                )
            ),
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            _WORKBOOK_RELS.format(sheets="".join(_SHEET_REL.format(n=n) for n in numbers)),
        )
        zf.writestr("xl/styles.xml", _STYLES)
        for n, sheet in zip(numbers, sheets, strict=True):
            with zf.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as part:
                for chunk in _sheet_xml(sheet, neutralise):
                    part.write(chunk.encode("utf-8"))
    return out.getvalue()
