"""The ledger's care list sheet (关爱名单): each household of the care list in the scope (on it
now, or asked in the days), why it is on it, who is responsible for it, and its daily
check-ins in the days (bot.services.care_checkins): how many were asked and how each was
answered, and for a period of at most `DAY_COLUMNS` days one column per day, like a register."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from bot.i18n import N_, Gettext
from bot.services.care import FLAGS
from bot.services.care_checkins import CALL, FINE, NEED
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import LIST_SEPARATOR
from bot.services.reports.sheets.sheet import Names, Sheet, headings, totals, word

TITLE = N_("Care register")
COLUMNS = (
    N_("Name"),
    N_("Phone"),
    N_("Grid"),
    N_("Building"),
    N_("Unit"),
    N_("Room"),
    N_("Why on the list"),
    N_("Responsible person"),
    N_("Isolated until"),
    N_("Check-ins asked"),
    N_("All right"),
    N_("Needs something"),
    N_("Asked to be called"),
    N_("No answer"),
)
_FIRST_COUNT = COLUMNS.index(N_("Check-ins asked"))
SUMS = frozenset(range(_FIRST_COUNT, len(COLUMNS)))
# A day's cell: the answer in a word (short: a month of them side by side).
DAY_WORDS = {
    FINE: N_("fine"),
    NEED: N_("needs"),
    CALL: N_("call"),
}
NO_ANSWER = N_("no answer")
# Periods up to a month get a column per day; longer ones only the counts.
DAY_COLUMNS = 31


def _days(data: LedgerData) -> list[date]:
    n = (data.day_to - data.day_from).days + 1
    if n > DAY_COLUMNS:
        return []
    return [data.day_from + timedelta(days=k) for k in range(n)]


def care_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    flags: dict[int, list[str]] = {}
    for rid, flag in data.care_flags:
        flags.setdefault(rid, []).append(str(word(FLAGS, flag, _)))
    checks: dict[int, dict[date, str | None]] = {}
    for rid, day, answer, _alerted_at in data.care_checks:
        checks.setdefault(rid, {})[day] = answer
    days = _days(data)
    rows: list[tuple[Any, ...]] = []
    for (
        rid,
        name,
        phone,
        grid_id,
        building_id,
        unit,
        room,
        responsible,
        isolation_until,
    ) in data.care:
        mine = checks.get(rid, {})
        counts = Counter(mine.values())
        rows.append(
            (
                name,
                phone,
                names.grid(grid_id),
                names.building(building_id),
                unit,
                room,
                _(LIST_SEPARATOR).join(flags.get(rid, [])),
                names.who(responsible) if responsible else "",
                # Only an isolation not over before the period (as a day, not a time).
                _day(isolation_until) if _current(isolation_until, data.day_from) else "",
                len(mine),
                counts[FINE],
                counts[NEED],
                counts[CALL],
                counts[None],
                *(_day_word(mine, d, _) for d in days),
            )
        )
    heads = headings(COLUMNS, _) + tuple(d.strftime("%m-%d") for d in days)
    width = len(heads)
    return Sheet(_(TITLE), heads, rows, totals=totals(rows, width, _, SUMS))


def _current(until: date | None, day_from: date) -> bool:
    return until is not None and until >= day_from


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _day_word(checks: dict[date, str | None], day: date, _: Gettext) -> str:
    if day not in checks:
        return ""  # not asked that day (not on the list yet, or the bot did not run)
    answer = checks[day]
    return _(DAY_WORDS[answer]) if answer in DAY_WORDS else _(NO_ANSWER)
