"""The care list (包保) as staff keep it: they find a household in their grids, mark its
vulnerability flags, name who is responsible for it, and set a home-isolation period; this
module owns those changes, the `Household` view of one row of the list (with today's
check-in, asked by `care_checkins`), and who may be responsible for a household.

The household sees the same record, in kind words (its 👤 page; told when isolation starts or
ends); volunteers never see why an order is priority or doorstep-only. Which households a
staff member may see is their scope (`bot.services.scope`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import audit, care_flags, isolation, scope
from bot.services.messages import tell
from models import (
    Building,
    CareCheck,
    CareFlag,
    Grid,
    Resident,
    Staff,
    Volunteer,
    VolunteerStatus,
)

# Vulnerability flags, in the order staff see them.
FLAGS: dict[CareFlag, str] = {
    CareFlag.ELDERLY_ALONE: N_("elderly, living alone"),
    CareFlag.MOBILITY: N_("limited mobility"),
    CareFlag.DISABLED: N_("disabled"),
    CareFlag.CHRONIC: N_("chronic illness"),
}

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
NOT_YOURS = STALE


def flags_label(flags: tuple[CareFlag, ...], _: Gettext) -> str:
    return "、".join(_(FLAGS[f]) for f in flags) if flags else _("no flags")


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Household:
    """One household as the care list shows it (staff only)."""

    resident_id: int
    telegram_id: int | None  # None: registered by staff, no Telegram (电话点单)
    name: str
    phone: str
    compound: str
    building: str
    unit: str
    room: str
    grid_id: int
    grid: str
    community_id: int
    flags: tuple[CareFlag, ...]
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


# What a Household view needs loaded with its Resident.
LOAD = (
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
    """Residents loaded with `LOAD` as the care list shows them; today's checks are read in
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
    flags = await care_flags.flags_by_resident(session, [r.id for r in residents])
    return [_view(r, flags.get(r.id, ()), checks.get(r.id), names) for r in residents]


async def household_of(
    session: AsyncSession, r: Resident, today: date, check: CareCheck | None = None
) -> Household:
    """One resident (loaded with `LOAD`) as the care list shows it."""
    checks = None if check is None else {r.id: check}
    return (await _households(session, [r], today, checks))[0]


def _view(
    r: Resident, flags: tuple[CareFlag, ...], check: CareCheck | None, names: dict[int, str]
) -> Household:
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
        flags=flags,
        responsible_telegram_id=tid,
        responsible=None if tid is None else names.get(tid),
        isolation_until=r.isolation_until,
        check_id=check.id if check else None,
        asked_at=check.asked_at if check else None,
        answer=check.answer if check else None,
        alerted_at=check.alerted_at if check else None,
    )


async def _resident_in_scope(session: AsyncSession, staff_id: int, resident_id: int) -> Resident:
    """The household, if the staff member's scope covers its grid."""
    staff_scope = await scope.require_staff(session, staff_id, NOT_STAFF)
    r = await session.scalar(select(Resident).where(Resident.id == resident_id).options(*LOAD))
    if r is None or not staff_scope.covers(r.building.grid.community_id, r.building.grid_id):
        raise Refused(NOT_YOURS)
    return r


# The same, for the care list by buttons (bot.services.care_browse).
households_of = _households


# --- staff: find, mark, assign, isolate, list -------------------------------------------------


async def find(session: AsyncSession, staff_id: int, query: str) -> int:
    """A household in the staff member's grids, by phone number or by "building unit room"
    (building by name or code; "1栋 1 101", "xf1 1-101"). Returns the resident id."""
    staff_scope = await scope.require_staff(session, staff_id, NOT_STAFF)
    q = query.strip()
    parts = [p for p in re.split(r"[\s\-/]+", q) if p]
    digits = re.sub(r"\D", "", q)
    stmt = (
        select(Resident.id)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(staff_scope.grid_clause())
    )
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
    return await household_of(session, r, rt.today())


async def toggle_flag(
    rt: Runtime,
    session: AsyncSession,
    staff_id: int,
    resident_id: int,
    flag: str,
    marking: bool | None = None,
) -> Household:
    """Mark or unmark one care flag, whoever set it (a row added or deleted: a concurrent
    change to the same flag is refused). ``marking``: what the pressed button offered (⬜ to
    mark, ☑️ to unmark); a card older than the flag, offering what is done already, is
    refused rather than undoing it."""
    if flag not in FLAGS:
        raise Refused(NOT_YOURS)
    r = await _resident_in_scope(session, staff_id, resident_id)
    care_flag, now = CareFlag(flag), rt.clock.now()
    have = set(await care_flags.flags_of(session, r.id))
    if marking is not None and marking == (care_flag in have):
        raise Refused(CHANGED)
    marking = care_flag not in have
    if marking:
        done = await care_flags.add(session, r.id, care_flag, staff_id, now)
    else:
        done = await care_flags.remove(session, r.id, care_flag)
    if not done:
        raise Refused(CHANGED)
    have = have | {care_flag} if marking else have - {care_flag}
    after = ",".join(care_flags.ordered(have)) or None
    r.updated_at = now
    await audit.record(
        session,
        rt.clock,
        staff_id,
        "care.mark" if marking else "care.unmark",
        f"resident:{r.id}",
        flag=flag,
        flags=after,
    )
    return await household_of(session, r, rt.today())


async def may_be_responsible(
    session: AsyncSession, telegram_id: int, community_id: int, grid_id: int
) -> bool:
    """Whether this person may be told a household's name, phone and address: staff whose
    scope covers its grid, or an approved (not suspended) volunteer of that grid."""
    if (await scope.scope_of(session, telegram_id)).covers(community_id, grid_id):
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
    grid = r.building.grid
    if not await may_be_responsible(session, tid, grid.community_id, grid.id):
        raise Refused(NOT_HERE, id=tid, grid=grid.name)
    return tid


async def assign(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int, text: str
) -> Household:
    """Name the responsible person (包保责任人): a Telegram id of staff or an approved
    volunteer whose scope covers the household's grid, or "me"; anyone else is refused and
    nothing is saved. They are told at once (they must have talked to the bot)."""
    r = await _resident_in_scope(session, staff_id, resident_id)
    tid = await _helper_id(session, staff_id, text, r)
    return await _name_responsible(rt, session, staff_id, r, tid)


async def clear_responsible(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int
) -> Household:
    """Nobody is responsible for the household any more (recorded like a naming)."""
    r = await _resident_in_scope(session, staff_id, resident_id)
    return await _name_responsible(rt, session, staff_id, r, None)


async def _name_responsible(
    rt: Runtime, session: AsyncSession, staff_id: int, r: Resident, tid: int | None
) -> Household:
    before = r.responsible_telegram_id
    r.responsible_telegram_id = tid
    r.updated_at = rt.clock.now()
    await audit.record(
        session, rt.clock, staff_id, "care.assign", f"resident:{r.id}", responsible=tid, was=before
    )
    h = await household_of(session, r, rt.today())
    if tid is not None and before != tid:
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
    """Home isolation until a date (inclusive), or "clear": its orders are doorstep-only and
    priority. The household is told (kindly); the volunteers are not told why."""
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
    await isolation.tell_household(rt, session, r, until, before)
    return await household_of(session, r, today)


async def care_list(rt: Runtime, session: AsyncSession, staff_id: int) -> list[Household]:
    """The care list of the staff member's grids: households marked vulnerable, with someone
    responsible, or in home isolation now."""
    staff_scope = await scope.require_staff(session, staff_id, NOT_STAFF)
    today = rt.today()
    rows = await session.scalars(
        select(Resident)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(
            staff_scope.grid_clause(),
            or_(
                care_flags.has_flag(),
                Resident.responsible_telegram_id.is_not(None),
                Resident.isolation_until >= today,
            ),
        )
        .options(*LOAD)
        .order_by(Building.grid_id, Building.id, Resident.unit, Resident.room)
        .limit(200)
    )
    return await _households(session, rows.all(), today)
