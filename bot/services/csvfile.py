"""Reading the CSV files staff prepare in a spreadsheet (the setup file, the roster).

One reader for both so that they accept the same things: a UTF-8 BOM (Excel writes one),
blank lines, cells padded with spaces, columns in any order under a header line, missing
trailing cells. A line with more cells than the header, a header without a needed column and
an empty file are errors with their line numbers; the caller checks the values.

What no importer may take in is refused here, per line, whatever the column: a cell over the
csv module's 128 KB limit (the rest of the file is not read: a runaway quote swallows it),
control characters (NUL, which PostgreSQL rejects, line breaks inside a name, escape codes),
and a cell beginning with = + - or @ (a spreadsheet reads it as a formula when the ledger is
opened: formula injection). A number or phone number such as "+86 139 0000 2001" or "-1" is
not a formula and passes on to the importer's own checks.

Both importers then check their lines the same way (`check_lines`): each line on its own, its
reasons joined into one numbered error, the good lines kept; the importer writes only if no
line is bad (all or nothing).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.i18n import N_, Gettext

V = TypeVar("V")
T = TypeVar("T")

# What a spreadsheet treats as the start of a formula (OWASP "CSV Injection"; tab and CR are
# the other two, but cells are stripped of them and a control character inside is refused).
FORMULA_START = ("=", "+", "-", "@")
# A number, phone number or date-like value: a leading + or - is then a sign, not a formula.
_NUMBER = re.compile(r"[+-]?[\d .()\-]*\d[\d .()\-]*")


class Column(str):
    """A column's name inside a reason: as it is in English, its label in the reader's."""

    __slots__ = ()


# The columns of both files, as the bot names them to staff (the header keeps the names).
COLUMN_LABELS = {
    "community": N_("the community column"),
    "community_code": N_("the community_code column"),
    "grid": N_("the grid column"),
    "compound": N_("the compound column"),
    "building": N_("the building column"),
    "building_code": N_("the building_code column"),
    "units": N_("the units column"),
    "date": N_("the date column"),
    "shift": N_("the shift column"),
    "volunteer": N_("the volunteer column"),
    "name": N_("the name column"),
    "unit": N_("the unit column"),
    "price": N_("the price column"),
    "place": N_("the place column"),
    "kind": N_("the kind column"),
    "buildings": N_("the buildings column"),
    "location": N_("the location column"),
    "pickup_times": N_("the pickup_times column"),
}


class Reason(str):
    """Why a line cannot be imported. As a str it is the English text (what `paotui import`
    prints); `render` gives it in the reader's language (what the bot shows staff). Reasons
    joined with `combine` stay a Reason."""

    parts: tuple[tuple[str, dict[str, Any]], ...]

    def __new__(cls, msgid: str, **params: Any) -> Reason:
        english = {k: f"the {v}" if isinstance(v, Column) else v for k, v in params.items()}
        made = super().__new__(cls, msgid.format(**english))
        made.parts = ((msgid, params),)
        return made

    @classmethod
    def combine(cls, reasons: list[str]) -> str:
        """The reasons joined by "; " (a Reason when each is one)."""
        text = "; ".join(reasons)
        if not all(isinstance(r, Reason) for r in reasons):
            return text
        made = super().__new__(cls, text)
        made.parts = tuple(p for r in reasons for p in r.parts)  # type: ignore[attr-defined]
        return made

    def __reduce__(self) -> tuple[Any, ...]:  # a copy keeps its parts (str's would drop them)
        return (_rebuilt, (str(self), self.parts))

    def render(self, _: Gettext) -> str:
        def one(msgid: str, params: dict[str, Any]) -> str:
            shown = {
                k: _(COLUMN_LABELS.get(v, v)) if isinstance(v, Column) else v
                for k, v in params.items()
            }
            return _(msgid).format(**shown)

        return _(SEPARATOR).join(one(m, p) for m, p in self.parts)


SEPARATOR = N_("; ")


def _rebuilt(text: str, parts: tuple[tuple[str, dict[str, Any]], ...]) -> Reason:
    made = str.__new__(Reason, text)
    made.parts = parts
    return made


def render(reason: str, _: Gettext) -> str:
    """A reason in the reader's language (a plain str, from elsewhere, as it is)."""
    return reason.render(_) if isinstance(reason, Reason) else reason


@dataclass
class Table:
    count: int = 0  # data lines read, good or bad
    lines: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line, column: cell)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    header_ok: bool = False


def _control(cell: str) -> str | None:
    """The first control character in ``cell`` as U+XXXX, or None."""
    for ch in cell:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return None


def cell_problem(column: str, cell: str) -> str | None:
    """Why ``cell`` may not be imported into ``column`` at all, or None."""
    if bad := _control(cell):
        return Reason(
            N_("{column} contains a control character ({char}); type it again as plain text"),
            column=Column(column),
            char=bad,
        )
    if cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell):
        shown = cell if len(cell) <= 40 else cell[:40] + "…"
        return Reason(
            N_(
                "{column} {value} begins with {first}: a name cannot begin with "
                "= + - or @ (a spreadsheet would run it as a formula)"
            ),
            column=Column(column),
            value=repr(shown),
            first=repr(cell[0]),
        )
    return None


def read(text: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> Table:
    """The data lines of ``text`` by column name; what is wrong with the file's shape or with a
    cell goes to ``errors`` (after a bad header or an over-long cell nothing else is read).
    An ``optional`` column may be left out of the header: its cells are then empty."""
    table = Table()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header: list[str] | None = None
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Over 128 KB in one cell (field_size_limit), usually a quote never closed: where
            # the reader would resume is a guess, so stop with this line named.
            if "field limit" in str(exc):
                reason = Reason(
                    N_("a cell is longer than {n} characters; the rest of the file was not read"),
                    n=f"{csv.field_size_limit():,}",
                )
            else:
                reason = Reason(N_("{error}; the rest of the file was not read"), error=str(exc))
            if header is not None:
                table.count += 1
            table.errors.append((reader.line_num, reason))
            break
        line = reader.line_num
        cells = [c.strip() for c in raw]
        if not any(cells):
            continue
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in columns if c not in header]
            if missing:
                table.errors.append(
                    (
                        line,
                        Reason(
                            N_("the first line must be the header {header} (missing: {missing})"),
                            header=",".join(columns),
                            missing=", ".join(missing),
                        ),
                    )
                )
                return table
            table.header_ok = True
            continue
        table.count += 1
        if len(cells) > len(header) and any(cells[len(header) :]):
            table.errors.append(
                (line, Reason(N_("more than the {n} columns of the header"), n=len(header)))
            )
            continue
        cells += [""] * (len(header) - len(cells))
        value = {c: cells[header.index(c)] for c in columns}
        value |= {c: cells[header.index(c)] if c in header else "" for c in optional}
        problems = [p for c in value if (p := cell_problem(c, value[c]))]
        if problems:
            table.errors.append((line, Reason.combine(problems)))
            continue
        table.lines.append((line, value))
    if header is None and not table.errors:
        table.errors.append((1, Reason(N_("the file is empty; the first line must be the header"))))
    return table


def check_lines(
    lines: Iterable[tuple[int, V]],
    check: Callable[[int, V], tuple[T | None, list[str]]],
    errors: list[tuple[int, str]],
) -> list[T]:
    """Each (line number, value) through ``check``, which gives the parsed line or the reasons
    it is bad. A bad line goes to ``errors`` as (line number, the reasons joined by "; "), a
    good one to the result; ``errors`` is sorted by line at the end. The caller writes
    nothing if ``errors`` is not empty."""
    good: list[T] = []
    for line, value in lines:
        parsed, reasons = check(line, value)
        if reasons:
            errors.append((line, Reason.combine(reasons)))
        elif parsed is not None:
            good.append(parsed)
    errors.sort()
    return good
