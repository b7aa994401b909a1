"""Shift templates and times: a template (day 08:00-20:00, night 20:00-08:00: `roster.shifts`
in the config) on a local date is a `Slot`, stored as UTC start and end; and how a shift, a
day and a template are written for a reader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.clock import clock_time, local_at, local_day
from bot.config import ShiftTemplate
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, local_time
from bot.runtime import Runtime

# Names of the usual templates as users read them; any other template shows its own name.
TEMPLATE_LABELS = {"day": N_("Day shift"), "night": N_("Night shift")}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
REFUSE_STALE = STALE


def shift_times(t: ShiftTemplate, day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of template ``t`` on local date ``day``; an end at or before the start
    is on the next day (a night shift)."""
    start = local_at(day, t.start, tz)
    end_day = day if clock_time(t.end) > clock_time(t.start) else day + timedelta(days=1)
    end = local_at(end_day, t.end, tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def template_of(rt: Runtime, name: str) -> ShiftTemplate:
    for t in rt.settings.roster.shifts:
        if t.name == name:
            return t
    raise Refused(REFUSE_STALE)


@dataclass(frozen=True)
class Slot:
    """One template on one local date."""

    template: str
    day: date
    starts_at: datetime
    ends_at: datetime


def slot(rt: Runtime, template: str, day: date) -> Slot:
    start, end = shift_times(template_of(rt, template), day, rt.timezone)
    return Slot(template, day, start, end)


def slots_of_day(rt: Runtime, day: date) -> list[Slot]:
    return [slot(rt, t.name, day) for t in rt.settings.roster.shifts]


def template_label(name: str | None, _: Gettext) -> str:
    if name is None:
        return _("Shift")
    return _(TEMPLATE_LABELS[name]) if name in TEMPLATE_LABELS else name


def day_label(day: date, _: Gettext) -> str:
    return f"{day:%m-%d} {_(WEEKDAYS[day.weekday()])}"


def times_label(starts_at: datetime, ends_at: datetime, tz: str) -> str:
    return f"{local_time(starts_at, tz)}–{local_time(ends_at, tz)}"


def shift_label(
    template: str | None, starts_at: datetime, ends_at: datetime, _: Gettext, tz: str
) -> str:
    """``05-01 Wed Night shift 20:00–08:00``: the local date it starts, the name, the times."""
    return (
        f"{day_label(local_day(starts_at, tz), _)} {template_label(template, _)} "
        f"{times_label(starts_at, ends_at, tz)}"
    )
