"""Reading the CSV files staff prepare in a spreadsheet (the setup file, the roster).

One reader for both so that they accept the same things: a UTF-8 BOM (Excel writes one),
blank lines, cells padded with spaces, columns in any order under a header line, missing
trailing cells. A line with more cells than the header, a header without a needed column and
an empty file are errors with their line numbers; the caller checks the values.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field


@dataclass
class Table:
    count: int = 0  # data lines read, good or bad
    lines: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line, column: cell)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    header_ok: bool = False


def read(text: str, columns: tuple[str, ...]) -> Table:
    """The data lines of ``text`` by column name; what is wrong with the file's shape goes to
    ``errors`` (after a bad header nothing else is read)."""
    table = Table()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header: list[str] | None = None
    for raw in reader:
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
                        f"the first line must be the header {','.join(columns)} "
                        f"(missing: {', '.join(missing)})",
                    )
                )
                return table
            table.header_ok = True
            continue
        table.count += 1
        if len(cells) > len(header) and any(cells[len(header) :]):
            table.errors.append((line, f"more than the {len(header)} columns of the header"))
            continue
        cells += [""] * (len(header) - len(cells))
        table.lines.append((line, {c: cells[header.index(c)] for c in columns}))
    if header is None:
        table.errors.append((1, "the file is empty; the first line must be the header"))
    return table
