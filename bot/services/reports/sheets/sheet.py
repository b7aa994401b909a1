"""What every sheet of the ledger is made of: the `Sheet` (a title, its headings, plain rows),
the cell values (local times without tzinfo, yuan) and `Names`, who and which grid an id is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import COMMAND_LINE


@dataclass(frozen=True)
class Sheet:
    title: str
    headings: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    money: frozenset[int] = field(default_factory=frozenset)  # columns in yuan (0.00)


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


def word(table: dict[str, str], key: Any, _: Gettext) -> Any:
    """The translated word for `key` in a table of msgids; the key as it is if it has none."""
    return _(table[key]) if key in table else key
