"""Repeating errands (issue 16): a finished order kept as a template with a rule (每天 / 每周几 /
每月几号 at a local time), and the sweep that makes each occurrence an ordinary order.

Exactly once (DESIGN rules 2 and 3): the sweep claims an occurrence with a conditional UPDATE
that moves ``next_due_at`` from the due time it read to the next one, and creates the order in
the same transaction; a second sweep (another instance, or after a restart) finds the time
moved and does nothing. An occurrence missed while the bot was down is created late, once, with
a note; older missed ones are skipped (the next time is counted from now, not from the missed
one), so a long outage never floods the grid with a backlog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.db import affected_rows
from bot.errors import Refused, stale
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import phone_orders, scope
from bot.services.messages import tell
from bot.services.orders import drafts, texts
from bot.services.orders.views import residents_order
from bot.services.typed_days import until_typed
from models import (
    Building,
    Compound,
    Grid,
    Order,
    OrderStatus,
    Repeat,
    Resident,
)

logger = logging.getLogger(__name__)

KINDS = ("daily", "weekly", "monthly")
STATUSES = ("active", "paused", "stopped", "ended")
# Rule codes carried by buttons: d (every day), w0..w6 (Monday..Sunday), m1..m31 (29-31: the
# month's last day in a shorter month, so a month is never skipped).
RULES = ("d", *(f"w{i}" for i in range(7)), *(f"m{i}" for i in range(1, 32)))
SHORT_MONTH_DAYS = (29, 30, 31)
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
# How long an end may be: none, a week, a month (days); or a last day typed (at most a year on).
SPANS = (0, 7, 30)
LONGEST = timedelta(days=366)
BAD_END = N_("Please type the last day, for example 12-20 or 12月20日.")
EARLY_END = N_("That day is before the first one ({day}). Please type a later day.")
# An occurrence created later than this (or two sweeps) after its time says it was late.
LATE_AFTER = timedelta(minutes=15)
# Occurrences in a row cancelled or not done that pause the repeat.
FAILURES_TO_PAUSE = 3
FAILED = (OrderStatus.CANCELLED, OrderStatus.UNFULFILLABLE)
DONE = (OrderStatus.CONFIRMED, OrderStatus.DELIVERED)


@dataclass(frozen=True)
class Rule:
    kind: str
    weekday: int | None = None
    monthday: int | None = None

    @property
    def code(self) -> str:
        if self.kind == "weekly":
            return f"w{self.weekday}"
        if self.kind == "monthly":
            return f"m{self.monthday}"
        return "d"


def parse_rule(code: str) -> Rule:
    if code not in RULES:
        raise stale()
    if code == "d":
        return Rule("daily")
    if code[0] == "w":
        return Rule("weekly", weekday=int(code[1:]))
    return Rule("monthly", monthday=int(code[1:]))


def parse_time(raw: str) -> str | None:
    """ "7:30", "07:30", "0730" or "7点30" as "07:30"; None if it is no time of day."""
    s = raw.strip().replace("：", ":").replace("点", ":").replace("分", "").replace(".", ":")
    if ":" not in s and s.isdigit() and len(s) in (3, 4):
        s = s[:-2] + ":" + s[-2:]
    h, _sep, m = s.partition(":")
    m = m or "0"
    if not (h.isascii() and h.isdigit() and m.isascii() and m.isdigit()):
        return None
    if len(h) > 2 or len(m) > 2 or int(h) > 23 or int(m) > 59:
        return None
    return f"{int(h):02d}:{int(m):02d}"


def _matches(rule: Rule, day: date) -> bool:
    if rule.kind == "weekly":
        return day.weekday() == rule.weekday
    if rule.kind == "monthly" and rule.monthday is not None:
        last = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
        return day.day == min(rule.monthday, last)
    return True


def next_due(
    rule: Rule, at_time: str, after: datetime, tz: str, ends_on: date | None = None
) -> datetime | None:
    """The first occurrence strictly after ``after`` (UTC), or None past ``ends_on``."""
    zone = ZoneInfo(tz)
    hh, mm = (int(x) for x in at_time.split(":"))
    day = after.astimezone(zone).date()
    for _i in range(63):  # a monthly rule recurs within 31 days
        if ends_on is not None and day > ends_on:
            return None
        if _matches(rule, day):
            at = datetime.combine(day, time(hh, mm), tzinfo=zone).astimezone(after.tzinfo)
            if at > after:
                return at
        day += timedelta(days=1)
    return None


@dataclass(frozen=True)
class RepeatView:
    id: int
    category: str
    description: str
    rule: Rule
    at_time: str
    ends_on: date | None
    status: str
    next_due_at: datetime | None
    resident_telegram_id: int
    # For staff: the household (compound, building, unit-room, name); empty for the household.
    where: str = ""


def _view(r: Repeat, resident_telegram_id: int, where: str = "") -> RepeatView:
    return RepeatView(
        where=where,
        id=r.id,
        category=r.category,
        description=r.description,
        rule=Rule(r.kind, r.weekday, r.monthday),
        at_time=r.at_time,
        ends_on=r.ends_on,
        status=r.status,
        next_due_at=r.next_due_at,
        resident_telegram_id=resident_telegram_id,
    )


def rule_text(rule: Rule, at_time: str, _: Gettext) -> str:
    """每天 07:00 / 每周二 07:00 / 每月15号 07:00."""
    if rule.kind == "weekly" and rule.weekday is not None:
        return _("every {weekday} at {time}").format(
            weekday=_(WEEKDAYS[rule.weekday]), time=at_time
        )
    if rule.kind == "monthly":
        return _("every month on day {day} at {time}").format(day=rule.monthday, time=at_time)
    return _("every day at {time}").format(time=at_time)


STATUS_WORDS = {
    "active": N_("active"),
    "paused": N_("paused"),
    "stopped": N_("stopped"),
    "ended": N_("ended"),
}


# --- a household's repeats ------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    repeat: RepeatView
    created: bool  # False: the same repeat of this order already existed (a repeated press)


def starts_after(rt: Runtime, o: Order) -> datetime:
    """When a repeat of this order may first fire: an order placed today and not cancelled or
    failed is today's, so its repeat starts tomorrow (she is not sent the same lunch twice)."""
    now = rt.clock.now()
    zone = ZoneInfo(rt.timezone)
    made = o.created_at.astimezone(zone).date()
    if o.status in FAILED or made < now.astimezone(zone).date():
        return now
    tomorrow = datetime.combine(made + timedelta(days=1), time(0), tzinfo=zone)
    # next_due looks strictly after: a repeat at 00:00 tomorrow is still tomorrow's.
    return max(now, tomorrow.astimezone(now.tzinfo) - timedelta(microseconds=1))


@dataclass(frozen=True)
class FirstTime:
    at: datetime | None
    tomorrow: bool  # today's was just ordered, so it starts tomorrow


async def first_time(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int, rule_code: str, at: str
) -> FirstTime:
    """For the setup's last question: when the first occurrence would be."""
    o = await residents_order(session, order_id, telegram_id)
    start = starts_after(rt, o)
    return FirstTime(
        next_due(parse_rule(rule_code), at, start, rt.timezone), start > rt.clock.now()
    )


async def repeatable(session: AsyncSession, order_id: int, telegram_id: int) -> Order:
    """The order, if this person may set up its repeat (asked at 🔁, before any question)."""
    o = await residents_order(session, order_id, telegram_id)
    await _may_set(session, o, telegram_id)
    return o


def _checked_end(until: date, first_day: date) -> date:
    if until < first_day:
        raise Refused(EARLY_END, day=first_day.strftime("%m-%d"))
    if until - first_day > LONGEST:
        raise Refused(BAD_END)
    return until


async def end_typed(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    rule_code: str,
    at: str,
    typed: str,
) -> tuple[date, FirstTime]:
    """The last day typed (12-20, 12月20日, 2026-12-20, or a number of days), checked against
    the first occurrence; with when that is, for the question that confirms it."""
    try:
        until = date.fromisoformat(until_typed(typed, rt.today()))
    except ValueError as exc:
        raise Refused(BAD_END) from exc
    first = await first_time(rt, session, order_id, telegram_id, rule_code, at)
    first_day = (first.at or rt.clock.now()).astimezone(ZoneInfo(rt.timezone)).date()
    return _checked_end(until, first_day), first


async def _may_set(session: AsyncSession, o: Order, telegram_id: int) -> str:
    """The household itself, or (a household without Telegram, whose order was taken by
    phone) staff covering it: the person who took the call, if they are staff. Returns how
    staff see whose repeat it is ("" for the household)."""
    if o.resident.telegram_id == telegram_id:
        return ""
    b = await session.scalar(
        select(Building)
        .where(Building.id == o.resident.building_id)
        .options(selectinload(Building.grid), selectinload(Building.compound))
    )
    assert b is not None
    if not (await scope.scope_of(session, telegram_id)).covers(b.grid.community_id, b.grid_id):
        raise Refused(N_("Only community staff can set up a repeating order for a household."))
    res = o.resident
    return f"{b.compound.name} {b.name} {res.unit}-{res.room} {res.name}"


async def create(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    rule_code: str,
    at_time: str,
    span_days: int,
    until: date | None = None,
) -> Created:
    """A repeat of the household's order (finished, or just sent from the form's summary);
    the same one twice is made once (the household's row is locked while looking, so two
    presses at once make one). A household without Telegram: set by the staff member who
    took its order by phone; each occurrence is then a phone order of theirs."""
    rule = parse_rule(rule_code)
    clean = parse_time(at_time)
    if clean is None or span_days not in SPANS:
        raise stale()
    o = await residents_order(session, order_id, telegram_id)
    where = await _may_set(session, o, telegram_id)
    await session.execute(select(Resident.id).where(Resident.id == o.resident_id).with_for_update())
    same = await session.scalar(
        select(Repeat).where(
            Repeat.source_order_id == o.id,
            Repeat.kind == rule.kind,
            Repeat.weekday.is_(None) if rule.weekday is None else Repeat.weekday == rule.weekday,
            Repeat.monthday.is_(None)
            if rule.monthday is None
            else Repeat.monthday == rule.monthday,
            Repeat.at_time == clean,
            Repeat.status.in_(("active", "paused")),
        )
    )
    if same is not None:
        return Created(_view(same, telegram_id, where), created=False)
    now = rt.clock.now()
    start = starts_after(rt, o)
    # "For a week" counts from its first day, which may be tomorrow.
    first = next_due(rule, clean, start, rt.timezone)
    first_day = (first or now).astimezone(ZoneInfo(rt.timezone)).date()
    ends_on = first_day + timedelta(days=span_days - 1) if span_days else None
    if until is not None:
        ends_on = _checked_end(until, first_day)
    r = Repeat(
        resident_id=o.resident_id,
        recipient_id=o.recipient_id,
        source_order_id=o.id,
        **drafts.answers_from(o),
        kind=rule.kind,
        weekday=rule.weekday,
        monthday=rule.monthday,
        at_time=clean,
        ends_on=ends_on,
        status="active",
        created_by=telegram_id,
        created_at=now,
        updated_at=now,
        next_due_at=next_due(rule, clean, start, rt.timezone, ends_on),
        consecutive_failures=0,
    )
    if r.next_due_at is None:
        r.status = "ended"
    session.add(r)
    await session.flush()
    return Created(_view(r, telegram_id, where), created=True)


async def of_resident(session: AsyncSession, telegram_id: int) -> list[RepeatView]:
    """The household's repeats that may still fire (active or paused), oldest first."""
    rows = await session.scalars(
        select(Repeat)
        .join(Resident, Resident.id == Repeat.resident_id)
        .where(Resident.telegram_id == telegram_id, Repeat.status.in_(("active", "paused")))
        .order_by(Repeat.id)
    )
    return [_view(r, telegram_id) for r in rows]


async def _reachable(session: AsyncSession, repeat_id: int, telegram_id: int) -> RepeatView:
    """The repeat, for its household or for staff whose scope covers the household's grid
    (the stale-button alert for anyone else)."""
    row = (
        await session.execute(
            select(Repeat, Resident)
            .join(Resident, Resident.id == Repeat.resident_id)
            .where(Repeat.id == repeat_id)
        )
    ).first()
    if row is None:
        raise stale()
    r, resident = row
    if resident.telegram_id == telegram_id:
        return _view(r, telegram_id)
    b = await session.scalar(
        select(Building)
        .where(Building.id == resident.building_id)
        .options(selectinload(Building.grid), selectinload(Building.compound))
    )
    assert b is not None
    if not (await scope.scope_of(session, telegram_id)).covers(b.grid.community_id, b.grid_id):
        raise stale()
    where = f"{b.compound.name} {b.name} {resident.unit}-{resident.room} {resident.name}"
    return _view(r, resident.telegram_id or 0, where)


async def in_scope(session: AsyncSession, telegram_id: int, limit: int = 30) -> list[RepeatView]:
    """Staff: the repeats (active or paused) of the households in their scope, oldest first."""
    sc = await scope.require_staff(session, telegram_id)
    rows = await session.execute(
        select(Repeat, Resident, Building, Compound)
        .join(Resident, Resident.id == Repeat.resident_id)
        .join(Building, Building.id == Resident.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(Repeat.status.in_(("active", "paused")), sc.grid_clause())
        .order_by(Repeat.id)
        .limit(limit)
    )
    return [
        _view(r, res.telegram_id or 0, f"{c.name} {b.name} {res.unit}-{res.room} {res.name}")
        for r, res, b, c in rows
    ]


# What each button does: the status it needs, and the status it makes.
VERBS = {"pause": ("active", "paused"), "resume": ("paused", "active"), "stop": (None, "stopped")}


@dataclass(frozen=True)
class Changed:
    repeat: RepeatView
    acted: bool  # False: the repeat was no longer as the pressed message showed it


async def change(
    rt: Runtime, session: AsyncSession, repeat_id: int, telegram_id: int, verb: str, seen: str
) -> Changed:
    """⏸ / ▶️ / ✖️, only if the repeat is still as the pressed message showed it (``seen``):
    one conditional UPDATE on that status; otherwise nothing is done and the repeat is
    returned as it is now (DESIGN rule 12)."""
    if verb not in VERBS or seen not in STATUSES:
        raise stale()
    seen_as = await _reachable(session, repeat_id, telegram_id)
    r = await session.get(Repeat, repeat_id)
    assert r is not None
    needs, makes = VERBS[verb]
    if (
        seen != r.status
        or (needs is not None and r.status != needs)
        or seen
        not in (
            "active",
            "paused",
        )
    ):
        return Changed(seen_as, acted=False)
    now = rt.clock.now()
    values: dict[str, object] = {"status": makes, "updated_at": now}
    if makes == "active":
        # Resumed: the next time from now (what fell in the pause is not made up).
        nxt = next_due(Rule(r.kind, r.weekday, r.monthday), r.at_time, now, rt.timezone, r.ends_on)
        values.update(next_due_at=nxt, consecutive_failures=0, resumed_at=now)
        if nxt is None:
            values["status"] = "ended"
        if (
            not seen_as.resident_telegram_id
            and r.created_by != telegram_id
            and not await phone_orders.reaches(session, r.created_by, r.resident_id)
        ):
            # A phone repeat whose staff member left: the one resuming it takes it over (its
            # orders and call-back prompts come to them).
            values["created_by"] = telegram_id
    elif makes == "stopped":
        values["next_due_at"] = None
    done = await affected_rows(
        session,
        update(Repeat)
        .where(Repeat.id == r.id, Repeat.status == seen)
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    await session.refresh(r)
    after = _view(r, seen_as.resident_telegram_id, seen_as.where)
    if done == 1 and telegram_id != seen_as.resident_telegram_id:
        # Staff changed it: the household is told.
        rule = Rule(r.kind, r.weekday, r.monthday)
        await tell(
            rt,
            session,
            seen_as.resident_telegram_id,
            lambda _: _(
                "🔁 Community staff changed your repeating order ({title}, {rule}): {status}."
            ).format(
                title=_(texts.CATEGORY[r.category]),
                rule=rule_text(rule, r.at_time, _),
                status=_(STATUS_WORDS[r.status]),
            ),
        )
    if (
        done == 1
        and not seen_as.resident_telegram_id
        and r.created_by != telegram_id
        and await phone_orders.reaches(session, r.created_by, r.resident_id)
    ):
        # A household without Telegram: the staff member who set it up is told instead (not
        # one who has left: the household's address is no longer theirs to see).
        rule = Rule(r.kind, r.weekday, r.monthday)
        await tell(
            rt,
            session,
            r.created_by,
            lambda _: _(
                "🔁 Another staff member changed the repeating order R{id} you set up ({where}; "
                "{title}, {rule}): {status}."
            ).format(
                id=r.id,
                where=seen_as.where,
                title=_(texts.CATEGORY[r.category]),
                rule=rule_text(rule, r.at_time, _),
                status=_(STATUS_WORDS[r.status]),
            ),
        )
    return Changed(after, acted=done == 1)
