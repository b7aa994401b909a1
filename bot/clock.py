"""The one clock everything reads, so tests and the sandbox can move time forward."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Real time plus an offset that only grows: the sandbox's and the tests' time control."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta():
            raise ValueError("time only moves forward")
        self.offset += delta


# Local days and clock times: the config says "08:00" and "2026-11-23" in the community's zone.


def local_day(dt: datetime, tz: str) -> date:
    """The local date of an instant."""
    return dt.astimezone(ZoneInfo(tz)).date()


def clock_time(value: str) -> time:
    """A validated "HH:MM" from the config."""
    h, m = value.split(":")
    return time(int(h), int(m))


def local_at(day: date, hhmm: str, tz: str) -> datetime:
    """The aware instant of local clock time ``hhmm`` on local date ``day``."""
    return datetime.combine(day, clock_time(hhmm), tzinfo=ZoneInfo(tz))
