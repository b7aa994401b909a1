"""What every sheet of the ledger is made of: the `Sheet` (a title, its headings, plain rows),
the cell values (local times without tzinfo, yuan) and `Names`, who and which grid an id is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import COMMAND_LINE, EVERY_COMMUNITY, TOTAL


@dataclass(frozen=True)
class Sheet:
    title: str
    headings: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    money: frozenset[int] = field(default_factory=frozenset)  # columns in yuan (0.00)
    # The row below the rows, in bold: a label and the sums where sums make sense (None: no
    # totals row). Not part of the rows: the CSV has none.
    totals: tuple[Any, ...] | None = None


def headings(columns: tuple[str, ...], _: Gettext) -> tuple[str, ...]:
    """A sheet's column msgids, in the reader's language."""
    return tuple(_(c) for c in columns)


def local(value: datetime | None, tz: str) -> datetime | None:
    """A local wall-clock time without tzinfo (what a spreadsheet cell holds)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0)


def yuan(fen: int | None) -> float | None:
    return None if fen is None else fen / 100


def label(table: dict[str, str], key: str | None, _: Gettext) -> str:
    """The translated label of `key` in a table of msgids; the key itself if it has none."""
    if key is None:
        return ""
    msgid = table.get(key)
    return _(msgid) if msgid else key


class Names:
    """Who a Telegram id is (staff first, then volunteers; the command line for none) and a
    grid's name, from what the ledger read."""

    def __init__(self, data: LedgerData, _: Gettext) -> None:
        self._data = data
        self._ = _
        self.volunteers = {v[0]: v for v in data.volunteers}
        self.volunteers_by_tid = {v[1]: v for v in data.volunteers}

    def who(self, tid: int | None) -> str:
        if tid is None:
            return self._(COMMAND_LINE)
        if tid in self._data.staff_names:
            return self._data.staff_names[tid]
        if tid in self.volunteers_by_tid:
            return str(self.volunteers_by_tid[tid][2])
        return ""

    def grid(self, gid: int | None) -> str:
        grids = self._data.grids
        return grids[gid][0] if gid is not None and gid in grids else ""

    def community(self, cid: int | None) -> str:
        return self._data.communities.get(cid, "") if cid is not None else ""

    def building(self, bid: int | None) -> str:
        """A building with its compound: 幸福小区 2栋."""
        return self._data.buildings.get(bid, "") if bid is not None else ""

    def place(self, key: str) -> str:
        """A notice's target key by name: c1 a community, g3 a grid, b5 a building (with its
        compound), all every community."""
        if key == "all":
            return self._(EVERY_COMMUNITY)
        kind, ident = key[:1], key[1:]
        if not ident.isdigit():
            return key
        n = int(ident)
        name = {"c": self.community, "g": self.grid, "b": self.building}.get(kind)
        return (name(n) or key) if name else key


def totals(
    rows: list[tuple[Any, ...]], width: int, _: Gettext, sums: frozenset[int] = frozenset()
) -> tuple[Any, ...]:
    """A totals row: "Total: <rows>" in the first column, and the sum of each column in
    ``sums`` (its numbers; yuan rounded to the fen)."""
    out: list[Any] = [None] * width
    out[0] = _(TOTAL).format(n=len(rows))
    for i in sums:
        total = sum(v for r in rows if type(v := r[i]) is int or type(v) is float)
        out[i] = round(total, 2) if isinstance(total, float) else total
    return tuple(out)


def word(table: Mapping[Any, str], key: Any, _: Gettext) -> Any:
    """The translated word for `key` in a table of msgids; the key as it is if it has none."""
    return _(table[key]) if key in table else key
