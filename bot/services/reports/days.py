"""The days a report covers: local days in the configured time zone, read from what staff typed
(/stats, /export, the command line) or a button's preset, and their bounds in UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import Refused
from bot.i18n import N_

MAX_DAYS = 366

BAD_DATES = N_(
    "I could not read those dates. Send one day or a range, as YYYY-MM-DD, the first not after "
    "the second, at most 366 days:\n{command}\n{command} 2026-11-23\n"
    "{command} 2026-11-01 2026-11-23"
)


def day_bounds(day_from: date, day_to: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants from the start of `day_from` to the end of `day_to`, local days."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day_from, time(0), zone).astimezone(UTC)
    end = datetime.combine(day_to + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def parse_days(args: Sequence[str], today: date, command: str = "/stats") -> tuple[date, date]:
    """No argument: today; one: that day; two: that range. Refused (BAD_DATES) otherwise."""
    if len(args) > 2:
        raise Refused(BAD_DATES, command=command)
    try:
        days = [date.fromisoformat(a.strip()) for a in args]
    except ValueError as exc:
        raise Refused(BAD_DATES, command=command) from exc
    if not days:
        return today, today
    return check_days(days[0], days[-1], command)


def check_days(first: date, last: date, command: str = "/stats") -> tuple[date, date]:
    """The range from `first` to `last`; Refused (BAD_DATES) if `first` is after `last` or the
    range is longer than MAX_DAYS days."""
    if last < first or (last - first).days >= MAX_DAYS:
        raise Refused(BAD_DATES, command=command)
    return first, last


def preset(name: str, today: date) -> tuple[date, date] | None:
    """The buttons' ranges: today, yesterday, the last 7 days (today included)."""
    if name == "today":
        return today, today
    if name == "yesterday":
        y = today - timedelta(days=1)
        return y, y
    if name == "7d":
        return today - timedelta(days=6), today
    return None
