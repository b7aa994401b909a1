"""The roster from a CSV file (`paotui roster import FILE`): one line per grid, date, shift
and volunteer, every line checked first (bot.services.csvfile.check_lines), nothing written if
any is bad, a shift already on the roster skipped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LANGUAGES, gettext_for
from bot.runtime import Runtime
from bot.services import csvfile
from bot.services.roster.editing import add_shift
from bot.services.roster.templates import Slot, slot, template_label
from models import Grid, Volunteer, VolunteerStatus

CSV_COLUMNS = ("grid", "date", "shift", "volunteer")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ImportResult:
    rows: int = 0
    added: int = 0
    skipped: int = 0  # already on the roster, or the same row twice in the file
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _digits(value: str) -> str:
    d = re.sub(r"\D", "", value)
    return d[2:] if len(d) == 13 and d.startswith("86") else d


def _template_names(rt: Runtime) -> dict[str, str]:
    """A template by its name, or by its label in any language (白班, Day shift)."""
    names: dict[str, str] = {}
    for t in rt.settings.roster.shifts:
        names[t.name.lower()] = t.name
        for lang in LANGUAGES:
            names[template_label(t.name, gettext_for(lang)).lower()] = t.name
    return names


async def import_csv(rt: Runtime, session: AsyncSession, text: str) -> ImportResult:
    """Check every row first; if any is bad, return the reasons and write nothing. Otherwise
    add every shift not already on the roster (in the caller's one transaction)."""
    result = ImportResult()
    table = csvfile.read(text, CSV_COLUMNS)
    result.rows = table.count
    result.errors.extend(table.errors)
    if not table.header_ok:
        return result
    lines = _Lines(
        rt,
        list(await session.scalars(select(Grid).order_by(Grid.id))),
        list(await session.scalars(select(Volunteer).order_by(Volunteer.id))),
    )
    good = csvfile.check_lines(table.lines, lines.check, result.errors)
    if result.errors:
        return result
    seen: set[tuple[int, int, datetime]] = set()
    for grid_id, volunteer_id, s in good:
        key3 = (grid_id, volunteer_id, s.starts_at)
        if key3 in seen or not await add_shift(session, rt, grid_id, s, volunteer_id, None):
            result.skipped += 1
        else:
            result.added += 1
        seen.add(key3)
    return result


class _Lines:
    """The checks of one line of the roster file against the grids, shifts and volunteers."""

    def __init__(self, rt: Runtime, grids: list[Grid], vols: list[Volunteer]) -> None:
        self.rt = rt
        self.grids = grids
        self.vols = vols
        self.grid_names = {g.id: g.name for g in grids}
        self.templates = _template_names(rt)

    def check(
        self, line: int, value: dict[str, str]
    ) -> tuple[tuple[int, int, Slot] | None, list[str]]:
        """(grid id, volunteer id, slot) of a good line, or why it is bad."""
        reasons: list[str] = []
        grid = self._grid(value["grid"], reasons)
        day = self._day(value["date"], reasons)
        template = self.templates.get(value["shift"].lower())
        if template is None:
            known = ", ".join(t.name for t in self.rt.settings.roster.shifts)
            reasons.append(f"no shift {value['shift']!r} (the shifts are: {known})")
        vol = self._volunteer(value["volunteer"], grid, reasons)
        if reasons:
            return None, reasons
        assert grid is not None and day is not None and template is not None and vol is not None
        return (grid.id, vol.id, slot(self.rt, template, day)), []

    def _grid(self, g: str, reasons: list[str]) -> Grid | None:
        if not g:
            reasons.append("the grid is empty")
            return None
        matches = [x for x in self.grids if (g.isdigit() and x.id == int(g)) or x.name == g]
        if not matches:
            reasons.append(f"no grid {g!r}")
        elif len(matches) > 1:
            reasons.append(f"several grids are called {g!r}: use the grid's id")
        else:
            return matches[0]
        return None

    @staticmethod
    def _day(d: str, reasons: list[str]) -> date | None:
        try:
            if not _DATE.match(d):
                raise ValueError(d)
            return date.fromisoformat(d)
        except ValueError:
            reasons.append(f"the date {d!r} is not YYYY-MM-DD")
            return None

    def _volunteer(self, who: str, grid: Grid | None, reasons: list[str]) -> Volunteer | None:
        key = _digits(who)
        if not key:
            reasons.append("the volunteer is empty (a phone number or a Telegram id)")
            return None
        found = {
            v.id: v
            for v in self.vols
            if str(v.telegram_id) == key or (v.phone and _digits(v.phone) == key)
        }
        if not found:
            reasons.append(f"no volunteer with the phone number or Telegram id {who!r}")
            return None
        if len(found) > 1:
            reasons.append(f"{who!r} matches several volunteers: use the Telegram id")
            return None
        vol = next(iter(found.values()))
        if vol.status != VolunteerStatus.APPROVED:
            reasons.append(f"{vol.name} ({who}) is not an approved volunteer")
        elif grid is not None and vol.grid_id != grid.id:
            reasons.append(
                f"{vol.name} ({who}) is a volunteer of {self.grid_names[vol.grid_id]}, "
                f"not of {grid.name}"
            )
        return vol
