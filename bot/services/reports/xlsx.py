"""The ledger's XLSX workbook, written directly: the few parts of an Office Open XML package a
spreadsheet needs (content types, relationships, workbook, styles, one worksheet per `Sheet`),
each sheet's XML streamed into the zip file row by row. What openpyxl's write-only mode wrote
(bold frozen headings, local times as dates, yuan as 0.00, every text an inline string cell,
never a formula), at a fraction of its cost: a month of a district's ledger is millions of
cells, and openpyxl spent ~0.1 ms on each. Each column is as wide as its longest cell (Chinese
counting double, capped), the heading row has an autofilter, and a sheet's totals row (bold)
follows its rows, outside the filter so that it stays in view when rows are filtered.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from bot.services.reports.sheets.sheet import Sheet

_Neutralise = Callable[[str], str]

# Cell styles (cellXfs, in styles.xml): 0 plain, 1 a local time, 2 yuan, 3 a bold heading (or
# a bold total), 4 a bold total in yuan.
_TIME, _MONEY, _BOLD, _BOLD_MONEY = 1, 2, 3, 4
# Column widths, in characters of the default font: a Chinese character counts two. The widest
# cell sets its column's width, at most WIDTH_MAX (longer text is cut off in view, not in the
# cell); measured over the first WIDTH_ROWS rows (every row of a community's month, and enough
# of a district's: measuring each of millions of cells would cost what writing them does).
WIDTH_MIN, WIDTH_MAX, WIDTH_ROWS = 6, 50, 20_000
_PAD, _HEADING_PAD = 2, 4  # room around a cell's text; a heading's also holds the filter button
_TIME_WIDTH, _DAY_WIDTH = len("2026-11-23 10:00"), len("2026-11-23")
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
    "<sheets>{sheets}</sheets>{names}</workbook>"
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
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="2" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
    'applyNumberFormat="1"/></cellXfs>'
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
# The autofilter of the heading and the rows (not the totals row below them).
_SHEET_TAIL = '</sheetData><autoFilter ref="{ref}"/></worksheet>'

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


class _Every:
    """Contains every first character: each text goes through ``neutralise``."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERY = _Every()


def _cells(
    n: int,
    row: Sequence[Any],
    pre: list[str],
    money: list[str],
    risky: Container[str],
    neutralise: _Neutralise,
) -> str:
    """One row's cells: text as inline strings, numbers (yuan in 0.00), local times as dates;
    None and "" as empty cells. ``pre[i]`` opens column i's cell up to its row number,
    ``money[i]`` is its number style; text is passed through ``neutralise`` when it starts with
    one of ``risky`` (the only text it changes). The hot loop of a ledger: a month of a district
    is tens of millions of cells, so the common kinds come first and nothing is looked up twice.
    """
    ns = str(n)
    cells: list[str] = []
    append = cells.append
    for i, value in enumerate(row):
        kind = type(value)
        if kind is str:
            if not value:
                continue
            if value[0] in risky:
                value = neutralise(value)
            if _SPECIAL.search(value) is not None:
                value = value.translate(_TEXT)
            append(f'{pre[i]}{ns}" t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>')
        elif value is None:
            continue
        elif kind is int or kind is float:
            append(f'{pre[i]}{ns}"{money[i]}><v>{value!r}</v></c>')
        elif kind is datetime or kind is date:
            append(f'{pre[i]}{ns}" s="{_TIME}"><v>{_serial(value)}</v></c>')
        else:
            append(_other(f"{pre[i]}{ns}", value, neutralise))
    return f'<row r="{ns}">{"".join(cells)}</row>'


def _other(opening: str, value: Any, neutralise: _Neutralise) -> str:
    """A cell of a rarer kind: a bool, an IntEnum or the like (a number), anything else as
    its text."""
    if isinstance(value, bool):
        return f'{opening}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'{opening}"><v>{value!r}</v></c>'
    if isinstance(value, str) and value == "":
        return ""
    text = xml_text(neutralise(str(value)))
    return f'{opening}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def text_width(text: str) -> int:
    """How many columns a text takes in view: a Chinese (or other wide) character two, the
    longest line of several. From the UTF-8 length (C speed): ASCII is one byte, Chinese three
    (-> 2), an emoji four (-> 2), accented Latin two (-> 1); never more than two a character."""
    if "\n" in text:
        return max(text_width(line) for line in text.split("\n"))
    n = len(text)
    return n if text.isascii() else min(2 * n, (len(text.encode("utf-8")) + n) // 2)


def _value_width(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return text_width(value)
    if kind is float:
        return len(f"{value:.2f}")
    if kind is datetime:
        return _TIME_WIDTH
    if kind is date:
        return _DAY_WIDTH
    return 0 if value is None else len(str(value))


def column_widths(sheet: Sheet) -> list[int]:
    """Each column's width: its longest cell (the heading with room for the filter button, the
    first `WIDTH_ROWS` rows, the totals), at least `WIDTH_MIN`, at most `WIDTH_MAX`."""
    widest = [text_width(h) + _HEADING_PAD - _PAD for h in sheet.headings]
    rows = itertools.islice(sheet.rows, WIDTH_ROWS)
    for row in itertools.chain(rows, [sheet.totals] if sheet.totals else []):
        if len(row) > len(widest):
            widest.extend([0] * (len(row) - len(widest)))
        for i, value in enumerate(row):
            # A text can be no wider than twice its length: most are skipped unmeasured.
            if value is None or (type(value) is str and len(value) * 2 <= widest[i]):
                continue
            w = _value_width(value)
            if w > widest[i]:
                widest[i] = w
    return [min(WIDTH_MAX, max(WIDTH_MIN, w + _PAD)) for w in widest]


def _totals(n: int, row: Sequence[Any], letters: list[str], money: frozenset[int]) -> str:
    """The totals row, bold (in yuan where the column is)."""
    cells = []
    for i, value in enumerate(row):
        if value is None or value == "":
            continue
        ref = f"{letters[i]}{n}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            style = _BOLD_MONEY if i in money else _BOLD
            cells.append(f'<c r="{ref}" s="{style}"><v>{value!r}</v></c>')
        else:
            cells.append(
                f'<c r="{ref}" t="inlineStr" s="{_BOLD}"><is><t xml:space="preserve">'
                f"{xml_text(str(value))}</t></is></c>"
            )
    return f'<row r="{n}">{"".join(cells)}</row>'


def _filter_ref(sheet: Sheet, absolute: bool = False) -> str:
    """The range the autofilter covers: the heading row and the rows (their headed columns),
    not the totals."""
    last = _column(max(1, len(sheet.headings)) - 1)
    rows = 1 + len(sheet.rows)
    return f"$A$1:${last}${rows}" if absolute else f"A1:{last}{rows}"


def _sheet_xml(sheet: Sheet, neutralise: _Neutralise, risky: Container[str]) -> Iterator[str]:
    """A worksheet's XML, a few hundred rows per piece."""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
        for i, w in enumerate(column_widths(sheet), start=1)
    )
    width = max((len(r) for r in sheet.rows), default=0)
    if sheet.totals:
        width = max(width, len(sheet.totals))
    letters = [_column(i) for i in range(max(width, len(sheet.headings)))]
    head = "".join(
        f'<c r="{letters[i]}1" t="inlineStr" s="{_BOLD}"><is><t xml:space="preserve">'
        f"{xml_text(h)}</t></is></c>"
        for i, h in enumerate(sheet.headings)
    )
    yield _SHEET_HEAD.format(cols=cols) + f'<row r="1">{head}</row>'
    pre = [f'<c r="{letter}' for letter in letters]
    money = [f' s="{_MONEY}"' if i in sheet.money else "" for i in range(len(letters))]
    piece: list[str] = []
    for n, row in enumerate(sheet.rows, start=2):
        piece.append(_cells(n, row, pre, money, risky, neutralise))
        if len(piece) >= 500:
            yield "".join(piece)
            piece = []
    if sheet.totals:
        piece.append(_totals(len(sheet.rows) + 2, sheet.totals, letters, sheet.money))
    yield "".join(piece) + _SHEET_TAIL.format(ref=_filter_ref(sheet))


def _quoted(title: str) -> str:
    """A sheet's name as a formula refers to it: in single quotes, a quote doubled."""
    return "'" + title.replace("'", "''") + "'"


def _defined_names(sheets: Sequence[Sheet]) -> str:
    """Each sheet's autofilter range under the hidden name Excel gives it (it keeps the filter
    working when rows are sorted or added)."""
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{xml_text(_quoted(s.title))}!{_filter_ref(s, absolute=True)}</definedName>"
        for i, s in enumerate(sheets)
    )
    return f"<definedNames>{names}</definedNames>" if names else ""


def workbook(sheets: Iterable[Sheet], neutralise: _Neutralise, risky: str | None = None) -> bytes:
    """The workbook of these sheets, each text passed through ``neutralise`` first (only the
    texts starting with one of ``risky``, if given: those are the only ones it changes)."""
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
                ),
                names=_defined_names(sheets),
            ),
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            _WORKBOOK_RELS.format(sheets="".join(_SHEET_REL.format(n=n) for n in numbers)),
        )
        zf.writestr("xl/styles.xml", _STYLES)
        for n, sheet in zip(numbers, sheets, strict=True):
            with zf.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as part:
                for chunk in _sheet_xml(sheet, neutralise, _EVERY if risky is None else risky):
                    part.write(chunk.encode("utf-8"))
    return out.getvalue()
