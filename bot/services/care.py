"""The care list (包保): staff mark vulnerable households, name who is responsible for each, and
set home-isolation periods; each day the bot asks those households "is everything all right
today?", and "please call me", or no answer by a set hour, alerts the responsible person.

Everything here is staff-only data: residents and volunteers never see why an order is
priority or doorstep-only. The daily question is one CareCheck row per household and day (the
unique key is the claim), written with its message; an answer and an alert are conditional
UPDATEs, so two sweeps, a restart or a double press fire nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import outbox
from bot.buttons import Button, Rows
from bot.clock import clock_time, local_at, local_day
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, gettext_for, local_time
from bot.runtime import Runtime
from bot.services import audit, scope
from bot.services.messages import tell
from bot.services.people import grids_in_scope, languages_of
from models import (
    Building,
    CareCheck,
    Resident,
    Staff,
    Volunteer,
    VolunteerStatus,
)

# Vulnerability flags, in the order staff see them.
FLAGS: dict[str, str] = {
    "elderly_alone": N_("elderly, living alone"),
    "mobility": N_("limited mobility"),
    "disabled": N_("disabled"),
    "chronic": N_("chronic illness"),
}
FINE, NEED, CALL = "fine", "need", "call"
# Button verb -> answer: c:ok:<check id>, c:need:<id>, c:call:<id>.
VERBS = {"ok": FINE, "need": NEED, "call": CALL}
ANSWER_LABEL = {
    FINE: N_("✅ all right"),
    NEED: N_("🛒 needs something"),
    CALL: N_("📞 asked to be called"),
}

ASK = N_("Good morning! Is everything all right today?")
BTN_FINE = N_("✅ I'm fine")
BTN_NEED = N_("🛒 I need something")
BTN_CALL = N_("📞 Please call me")

NOT_STAFF = N_("Only community staff can keep the care list.")
NOT_FOUND = N_(
    "No household in your grids matches {query}. Give the phone number, or the building, "
    "unit and room, for example: /care 1栋 1 101"
)
SEVERAL = N_(
    "Several households match {query}. Give the building, unit and room, for example: "
    "/care 1栋 1 101"
)
NOT_HELPER = N_(
    "{id} is not a staff member or an approved volunteer. Send their Telegram id (they see "
    "it when they send /staff), or “me”."
)
NOT_HERE = N_(
    "{id} cannot be responsible for this household: only the staff of {grid} or its approved "
    "volunteers can. Nothing was saved; send another Telegram id, or “me”."
)
BAD_DATE = N_("Please send a date like {example}, or “clear” to end the isolation.")
PAST_DATE = N_("That date has passed. Please send today's date or a later one.")
CHANGED = N_("Someone changed this household just now. Please look again and retry.")
OLD_CHECK = N_("This question was for an earlier day. Thank you; today's comes in the morning.")
NOT_YOURS = STALE


def flags_of(value: str | None) -> tuple[str, ...]:
    have = set(value.split(",")) if value else set()
    return tuple(f for f in FLAGS if f in have)


def flags_label(flags: tuple[str, ...], _: Gettext) -> str:
    return "、".join(_(FLAGS[f]) for f in flags) if flags else _("no flags")


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Household:
    """One household as the care list shows it (staff only)."""

    resident_id: int
    telegram_id: int
    name: str
    phone: str
    compound: str
    building: str
    unit: str
    room: str
    grid_id: int
    grid: str
    community_id: int
    flags: tuple[str, ...]
    responsible_telegram_id: int | None
    responsible: str | None
    isolation_until: date | None
    check_id: int | None = None
    asked_at: datetime | None = None
    answer: str | None = None
    alerted_at: datetime | None = None

    @property
    def address(self) -> str:
        return f"{self.compound} {self.building} {self.unit}-{self.room}"


_LOAD = (
    selectinload(Resident.building).options(
        selectinload(Building.grid), selectinload(Building.compound)
    ),
)


async def _names_of(session: AsyncSession, telegram_ids: Iterable[int | None]) -> dict[int, str]:
    """The responsible people's names: a staff member's (their first staff row), else a
    volunteer's (any status); someone who is neither is left out."""
    wanted = {tid for tid in telegram_ids if tid is not None}
    names: dict[int, str] = {}
    if not wanted:
        return names
    staff = await session.execute(
        select(Staff.telegram_id, Staff.name).where(Staff.telegram_id.in_(wanted))
    )
    for tid, name in staff:
        names.setdefault(tid, name)
    rest = wanted - names.keys()
    if rest:
        volunteers = await session.execute(
            select(Volunteer.telegram_id, Volunteer.name).where(Volunteer.telegram_id.in_(rest))
        )
        for tid, name in volunteers:
            names[tid] = name
    return names


async def _households(
    session: AsyncSession,
    residents: Sequence[Resident],
    today: date,
    checks: dict[int, CareCheck] | None = None,
) -> list[Household]:
    """Residents loaded with `_LOAD` as the care list shows them; today's checks are read in
    one query unless given (by resident id)."""
    if checks is None:
        checks = {}
        if residents:
            rows = await session.scalars(
                select(CareCheck).where(
                    CareCheck.resident_id.in_([r.id for r in residents]), CareCheck.day == today
                )
            )
            checks = {c.resident_id: c for c in rows}
    names = await _names_of(session, (r.responsible_telegram_id for r in residents))
    return [_view(r, checks.get(r.id), names) for r in residents]


async def _household(
    session: AsyncSession, r: Resident, today: date, check: CareCheck | None = None
) -> Household:
    checks = None if check is None else {r.id: check}
    return (await _households(session, [r], today, checks))[0]


def _view(r: Resident, check: CareCheck | None, names: dict[int, str]) -> Household:
    b = r.building
    tid = r.responsible_telegram_id
    return Household(
        resident_id=r.id,
        telegram_id=r.telegram_id,
        name=r.name,
        phone=r.phone,
        compound=(b.compound.name if b.compound else None) or "",
        building=b.name,
        unit=r.unit,
        room=r.room,
        grid_id=b.grid_id,
        grid=b.grid.name,
        community_id=b.grid.community_id,
        flags=flags_of(r.vulnerable),
        responsible_telegram_id=tid,
        responsible=None if tid is None else names.get(tid),
        isolation_until=r.isolation_until,
        check_id=check.id if check else None,
        asked_at=check.asked_at if check else None,
        answer=check.answer if check else None,
        alerted_at=check.alerted_at if check else None,
    )


async def _scope(session: AsyncSession, staff_id: int) -> list[int]:
    grids = [gid for gid, _ in await grids_in_scope(session, staff_id)]
    if not grids:
        raise Refused(NOT_STAFF)
    return grids


async def _resident_in_scope(session: AsyncSession, staff_id: int, resident_id: int) -> Resident:
    grids = await _scope(session, staff_id)
    r = await session.scalar(select(Resident).where(Resident.id == resident_id).options(*_LOAD))
    if r is None or r.building.grid_id not in grids:
        raise Refused(NOT_YOURS)
    return r


# --- staff: find, mark, assign, isolate, list -------------------------------------------------


async def find(session: AsyncSession, staff_id: int, query: str) -> int:
    """A household in the staff member's grids, by phone number or by "building unit room"
    (building by name or code; "1栋 1 101", "xf1 1-101"). Returns the resident id."""
    grids = await _scope(session, staff_id)
    q = query.strip()
    parts = [p for p in re.split(r"[\s\-/]+", q) if p]
    digits = re.sub(r"\D", "", q)
    stmt = select(Resident.id).join(Building, Building.id == Resident.building_id)
    stmt = stmt.where(Building.grid_id.in_(grids))
    if len(parts) == 3:
        building, unit, room = parts
        stmt = stmt.where(
            or_(Building.name == building, Building.code == building.lower()),
            Resident.unit == unit,
            Resident.room == room,
        )
    elif len(digits) >= 5 and len(digits) >= len(q.replace(" ", "").lstrip("+")) - 1:
        stmt = stmt.where(or_(Resident.phone == digits, Resident.phone.endswith(digits[-11:])))
    else:
        raise Refused(NOT_FOUND, query=q[:40])
    found = list((await session.scalars(stmt.limit(3))).all())
    if not found:
        raise Refused(NOT_FOUND, query=q[:40])
    if len(found) > 1:
        raise Refused(SEVERAL, query=q[:40])
    return found[0]


async def household(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int
) -> Household:
    r = await _resident_in_scope(session, staff_id, resident_id)
    return await _household(session, r, rt.today())


async def toggle_flag(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int, flag: str
) -> Household:
    """Mark or unmark one vulnerability flag (a conditional UPDATE on the value read)."""
    if flag not in FLAGS:
        raise Refused(NOT_YOURS)
    r = await _resident_in_scope(session, staff_id, resident_id)
    before = r.vulnerable
    have = set(flags_of(before))
    marking = flag not in have
    have = have | {flag} if marking else have - {flag}
    after = ",".join(f for f in FLAGS if f in have) or None
    done = await session.execute(
        update(Resident)
        .where(
            Resident.id == r.id,
            Resident.vulnerable.is_(None) if before is None else Resident.vulnerable == before,
        )
        .values(vulnerable=after, care_marked_by=staff_id, updated_at=rt.clock.now())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Refused(CHANGED)
    await audit.record(
        session,
        rt.clock,
        staff_id,
        "care.mark" if marking else "care.unmark",
        f"resident:{r.id}",
        flag=flag,
        flags=after,
    )
    await session.refresh(r, ["vulnerable", "care_marked_by", "updated_at"])
    return await _household(session, r, rt.today())


async def may_be_responsible(session: AsyncSession, telegram_id: int, grid_id: int) -> bool:
    """Whether this person may be told a household's name, phone and address: staff whose
    scope covers its grid, or an approved (not suspended) volunteer of that grid."""
    if grid_id in {gid for gid, _name in await grids_in_scope(session, telegram_id)}:
        return True
    return (
        await session.scalar(
            select(Volunteer.id).where(
                Volunteer.telegram_id == telegram_id,
                Volunteer.status == VolunteerStatus.APPROVED,
                Volunteer.grid_id == grid_id,
            )
        )
        is not None
    )


async def _helper_id(session: AsyncSession, staff_id: int, text: str, r: Resident) -> int:
    t = text.strip().lower()
    if t in ("me", "我", "自己"):
        tid = staff_id
    elif not t.isdigit() or len(t) > 15:
        raise Refused(NOT_HELPER, id=text.strip()[:20])
    else:
        tid = int(t)
        is_staff = await session.scalar(select(Staff.id).where(Staff.telegram_id == tid).limit(1))
        vol = await session.scalar(
            select(Volunteer.id).where(
                Volunteer.telegram_id == tid, Volunteer.status == VolunteerStatus.APPROVED
            )
        )
        if is_staff is None and vol is None:
            raise Refused(NOT_HELPER, id=tid)
    # They will receive the household's name, phone and address: only someone whose own
    # scope covers its grid (issue 11).
    if not await may_be_responsible(session, tid, r.building.grid_id):
        raise Refused(NOT_HERE, id=tid, grid=r.building.grid.name)
    return tid


async def assign(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int, text: str
) -> Household:
    """Name the responsible person (包保责任人): a Telegram id of staff or an approved
    volunteer whose scope covers the household's grid, or "me"; anyone else is refused and
    nothing is saved. They are told at once (they must have talked to the bot)."""
    r = await _resident_in_scope(session, staff_id, resident_id)
    tid = await _helper_id(session, staff_id, text, r)
    before = r.responsible_telegram_id
    r.responsible_telegram_id = tid
    r.updated_at = rt.clock.now()
    await audit.record(
        session, rt.clock, staff_id, "care.assign", f"resident:{r.id}", responsible=tid, was=before
    )
    h = await _household(session, r, rt.today())
    if before != tid:
        await tell(
            rt,
            session,
            tid,
            lambda _: _(
                "👤 You are now responsible (包保) for {name}, {address}, phone {phone}. "
                "I will tell you if they ask to be called or do not answer the daily check-in."
            ).format(name=h.name, address=h.address, phone=h.phone),
        )
    return h


async def set_isolation(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int, text: str
) -> Household:
    """Home isolation until a date (inclusive), or "clear". Staff only: its orders are
    doorstep-only and priority, and nobody else is told why."""
    r = await _resident_in_scope(session, staff_id, resident_id)
    t = text.strip().lower()
    today = rt.today()
    until: date | None
    if t in ("clear", "none", "-", "清除", "结束", "无"):
        until = None
    else:
        try:
            until = date.fromisoformat(t)
        except ValueError:
            raise Refused(BAD_DATE, example=(today + timedelta(days=7)).isoformat()) from None
        if until < today:
            raise Refused(PAST_DATE)
    before = r.isolation_until
    r.isolation_until = until
    r.updated_at = rt.clock.now()
    await audit.record(
        session,
        rt.clock,
        staff_id,
        "care.isolation" if until else "care.isolation_end",
        f"resident:{r.id}",
        until=until,
        was=before,
    )
    return await _household(session, r, today)


async def care_list(rt: Runtime, session: AsyncSession, staff_id: int) -> list[Household]:
    """The care list of the staff member's grids: households marked vulnerable, with someone
    responsible, or in home isolation now."""
    grids = await _scope(session, staff_id)
    today = rt.today()
    rows = await session.scalars(
        select(Resident)
        .join(Building, Building.id == Resident.building_id)
        .where(
            Building.grid_id.in_(grids),
            or_(
                Resident.vulnerable.is_not(None),
                Resident.responsible_telegram_id.is_not(None),
                Resident.isolation_until >= today,
            ),
        )
        .options(*_LOAD)
        .order_by(Building.grid_id, Building.id, Resident.unit, Resident.room)
        .limit(200)
    )
    return await _households(session, rows.all(), today)


# --- the daily check-in -----------------------------------------------------------------------


def question(check_id: int, _: Gettext) -> tuple[str, Rows]:
    return _(ASK), [
        [Button(_(BTN_FINE), f"c:ok:{check_id}")],
        [Button(_(BTN_NEED), f"c:need:{check_id}")],
        [Button(_(BTN_CALL), f"c:call:{check_id}")],
    ]


async def ask_due(rt: Runtime) -> int:
    """From `care.check_in_at` to `alert_if_no_answer_by` (local), ask each household marked
    vulnerable once a day. The
    CareCheck insert is the claim (unique per household and day), in the same transaction as
    the question. Returns how many were asked."""
    now = rt.clock.now()
    local = now.astimezone(ZoneInfo(rt.timezone))
    # Only in the morning window: someone marked in the evening is asked the next morning.
    if (
        not clock_time(rt.settings.care.check_in_at)
        <= local.time()
        < clock_time(rt.settings.care.alert_if_no_answer_by)
    ):
        return 0
    today = local.date()
    asked = 0
    async with rt.db.session() as session:
        due = (
            await session.execute(
                select(Resident.id, Resident.telegram_id)
                .outerjoin(
                    CareCheck, (CareCheck.resident_id == Resident.id) & (CareCheck.day == today)
                )
                .where(Resident.vulnerable.is_not(None), Resident.vulnerable != "")
                .where(CareCheck.id.is_(None))
                .order_by(Resident.id)
                .limit(500)
            )
        ).all()
        langs = await languages_of(session, [tid for _, tid in due], rt.default_language)
        for resident_id, telegram_id in due:
            try:
                async with session.begin_nested():
                    check = CareCheck(resident_id=resident_id, day=today, asked_at=now)
                    session.add(check)
            except IntegrityError:
                continue  # another sweep asked them
            text, rows = question(check.id, gettext_for(langs[telegram_id]))
            outbox.enqueue(session, rt.clock, chat_id=telegram_id, text=text, buttons=rows)
            asked += 1
    return asked


async def _tell_responsible(rt: Runtime, session: AsyncSession, h: Household, make: _Text) -> int:
    """Tell the responsible person; with nobody named, or someone no longer entitled to the
    household's details (a suspended volunteer, staff moved elsewhere), the staff in scope of
    the grid."""
    tid = h.responsible_telegram_id
    to = (
        [tid]
        if tid and await may_be_responsible(session, tid, h.grid_id)
        else await scope.staff_covering(session, h.community_id, h.grid_id)
    )
    await tell(rt, session, to, make)
    return len(to)


class _Text:
    """A message to the responsible person, rendered in each reader's language."""

    def __init__(self, msgid: str, **params: object) -> None:
        self.msgid, self.params = msgid, params

    def __call__(self, _: Gettext) -> str:
        return _(self.msgid).format(**self.params)


ALERT_CALL = N_(
    "📞 {name} asks to be called (today's check-in). Please call now: {phone}\n📍 {address}"
)
ALERT_NEED = N_(
    "ℹ️ {name} says they need something today; I told them how to order with 📝 Order. "
    "Phone {phone}, 📍 {address}"
)
ALERT_SILENT = N_(
    "⚠️ {name} has not answered today's check-in (asked at {time}). Please call or visit: "
    "{phone}\n📍 {address}"
)
ALERT_LATE_FINE = N_("✅ {name} has answered today's check-in now: all right.")


@dataclass(frozen=True)
class Answered:
    answer: str
    first: bool  # False: an earlier answer counted, this press changed nothing
    told: int  # how many people were alerted


async def answer(
    rt: Runtime, session: AsyncSession, telegram_id: int, check_id: int, verb: str
) -> Answered:
    """The household's answer to today's question: the first answer counts (a conditional
    UPDATE). "call" alerts the responsible person at once; "need" tells them softly."""
    if verb not in VERBS:
        raise Refused(NOT_YOURS)
    check = await session.get(CareCheck, check_id)
    r = await session.scalar(
        select(Resident).where(Resident.id == (check.resident_id if check else -1)).options(*_LOAD)
    )
    if check is None or r is None or r.telegram_id != telegram_id:
        raise Refused(NOT_YOURS)
    today = rt.today()
    if check.day != today:
        raise Refused(OLD_CHECK)
    value = VERBS[verb]
    now = rt.clock.now()
    done = await session.execute(
        update(CareCheck)
        .where(CareCheck.id == check.id, CareCheck.answer.is_(None))
        .values(answer=value, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        await session.refresh(check)
        return Answered(check.answer or value, first=False, told=0)
    await session.refresh(check)
    h = await _household(session, r, today, check)
    params = {"name": h.name, "phone": h.phone, "address": h.address}
    told = 0
    if value == CALL:
        told = await _tell_responsible(rt, session, h, _Text(ALERT_CALL, **params))
    elif value == NEED:
        told = await _tell_responsible(rt, session, h, _Text(ALERT_NEED, **params))
    elif check.alerted_at is not None:
        told = await _tell_responsible(rt, session, h, _Text(ALERT_LATE_FINE, name=h.name))
    return Answered(value, first=True, told=told)


def _alert_deadline(rt: Runtime, check: CareCheck) -> datetime:
    """The alert hour of the check's day; a household asked late (marked during the day, or
    the bot was down) gets as long to answer as the others did."""
    cfg, tz = rt.settings.care, rt.timezone
    deadline = local_at(check.day, cfg.alert_if_no_answer_by, tz)
    window = deadline - local_at(check.day, cfg.check_in_at, tz)
    return max(deadline, check.asked_at + window)


async def alert_due(rt: Runtime) -> int:
    """After `care.alert_if_no_answer_by` (local), each of today's checks with no answer
    alerts the responsible person once (a conditional UPDATE on alerted_at)."""
    now = rt.clock.now()
    today = local_day(now, rt.timezone)
    if now < local_at(today, rt.settings.care.alert_if_no_answer_by, rt.timezone):
        return 0
    alerted = 0
    async with rt.db.session() as session:
        checks = (
            await session.scalars(
                select(CareCheck)
                .where(
                    CareCheck.day == today,
                    CareCheck.answer.is_(None),
                    CareCheck.alerted_at.is_(None),
                )
                .order_by(CareCheck.id)
                .limit(500)
            )
        ).all()
        for check in checks:
            if _alert_deadline(rt, check) > now:
                continue
            claimed = await session.execute(
                update(CareCheck)
                .where(
                    CareCheck.id == check.id,
                    CareCheck.alerted_at.is_(None),
                    CareCheck.answer.is_(None),
                )
                .values(alerted_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue  # answered meanwhile, or another sweep alerted
            r = await session.scalar(
                select(Resident).where(Resident.id == check.resident_id).options(*_LOAD)
            )
            assert r is not None
            h = await _household(session, r, today, check)
            await _tell_responsible(
                rt,
                session,
                h,
                _Text(
                    ALERT_SILENT,
                    name=h.name,
                    phone=h.phone,
                    address=h.address,
                    time=local_time(check.asked_at, rt.timezone),
                ),
            )
            alerted += 1
    return alerted
