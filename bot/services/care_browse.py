"""The care list by buttons (staff): browse compound → building → household within one's
scope, a forgiving search by phone or room, and the people who may be named responsible for
a household (包保责任人), chosen from a list rather than typed as Telegram ids.

Every function re-checks the staff member's scope; changes go through ``bot.services.care``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import care, scope
from models import Building, Compound, Grid, Resident, Staff, StaffRole, Volunteer, VolunteerStatus

NOTHING_FOUND = N_(
    "No household in your grids matches {query}. Try the phone number (or its last digits), "
    "the room (101), or building, unit and room (1栋 1 101)."
)
MOST = 30  # households listed at once; a search that finds more asks for more detail


@dataclass(frozen=True)
class Item:
    id: int
    label: str
    count: int = 0


async def compounds(session: AsyncSession, staff_id: int) -> list[Item]:
    """The compounds with buildings in the staff member's grids, with their households."""
    s = await scope.require_staff(session, staff_id, care.NOT_STAFF)
    rows = await session.execute(
        select(Compound.id, Compound.name, func.count(Resident.id))
        .join(Building, Building.compound_id == Compound.id)
        .join(Grid, Grid.id == Building.grid_id)
        .outerjoin(
            Resident, (Resident.building_id == Building.id) & Resident.forgotten_at.is_(None)
        )
        .where(s.grid_clause())
        .group_by(Compound.id, Compound.name)
        .order_by(Compound.id)
    )
    return [Item(cid, name, n) for cid, name, n in rows]


async def buildings(session: AsyncSession, staff_id: int, compound_id: int) -> list[Item]:
    """The buildings of one compound in the staff member's grids, with their households."""
    s = await scope.require_staff(session, staff_id, care.NOT_STAFF)
    rows = await session.execute(
        select(Building.id, Compound.name, Building.name, func.count(Resident.id))
        .join(Compound, Compound.id == Building.compound_id)
        .join(Grid, Grid.id == Building.grid_id)
        .outerjoin(
            Resident, (Resident.building_id == Building.id) & Resident.forgotten_at.is_(None)
        )
        .where(s.grid_clause(), Building.compound_id == compound_id)
        .group_by(Building.id, Compound.name, Building.name)
        .order_by(Building.id)
    )
    return [Item(bid, f"{cname} {bname}", n) for bid, cname, bname, n in rows]


async def _households(
    rt: Runtime, session: AsyncSession, staff_id: int, *conditions: object
) -> list[care.Household]:
    s = await scope.require_staff(session, staff_id, care.NOT_STAFF)
    rows = await session.scalars(
        select(Resident)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(s.grid_clause(), Resident.forgotten_at.is_(None), *conditions)  # type: ignore[arg-type]
        .options(*care.LOAD)
        .order_by(Building.id, Resident.unit, Resident.room)
        .limit(MOST + 1)
    )
    return await care.households_of(session, rows.all(), rt.today())


async def in_building(
    rt: Runtime, session: AsyncSession, staff_id: int, building_id: int
) -> list[care.Household]:
    """The households of one building in the staff member's grids."""
    return await _households(rt, session, staff_id, Resident.building_id == building_id)


async def search(
    rt: Runtime, session: AsyncSession, staff_id: int, query: str
) -> list[care.Household]:
    """Households matching what staff typed, forgivingly: a phone number or its last four
    digits or more, a room ("101", "1-101", "1单元101"), or building, unit and room
    ("1栋 1 101", "xf1 1-101")."""
    q = query.strip()
    parts = [p for p in re.split(r"[\s\-/#,，、室号单元]+", q) if p]
    digits = re.sub(r"\D", "", q)
    conditions: list[object] = []
    if len(parts) >= 3:
        building, unit, room = parts[-3:]
        name = building if building.endswith(("栋", "号楼", "幢")) else building + "栋"
        conditions = [
            or_(
                Building.name == building,
                Building.name == name,
                Building.code == building.lower(),
            ),
            Resident.unit == unit,
            Resident.room == room,
        ]
    elif len(parts) == 2 and all(p.isdigit() for p in parts):
        conditions = [Resident.unit == parts[0], Resident.room == parts[1]]
    elif len(digits) >= 5 and len(parts) == 1 and parts[0].lstrip("+").isdigit():
        conditions = [Resident.phone.endswith(digits[-11:])]
    elif len(parts) == 1 and parts[0].isdigit():
        # "1202" may be a room or a phone's last four digits: both are offered.
        room = Resident.room == parts[0]
        conditions = [or_(room, Resident.phone.endswith(digits)) if len(digits) == 4 else room]
    elif len(parts) == 1:  # a name, or part of one
        conditions = [Resident.name.contains(parts[0])]
    found = await _households(rt, session, staff_id, *conditions) if conditions else []
    if not found:
        raise Refused(NOTHING_FOUND, query=q[:40])
    return found


def on_list(h: care.Household) -> bool:
    """Whether a household is on the care list (flags, someone responsible, isolating)."""
    return bool(h.flags or h.responsible_telegram_id or h.isolation_until)


@dataclass(frozen=True)
class Candidate:
    key: str  # s<staff row id> or v<volunteer id>: never a Telegram id in a button
    telegram_id: int
    name: str
    staff: bool


async def candidates(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int
) -> list[Candidate]:
    """Who may be named responsible for this household: the staff on the spot (community
    staff and the grid's leaders) and the grid's approved volunteers, the one who asks
    first. Admins are not listed (they are everywhere, rarely at the door)."""
    h = await care.household(rt, session, staff_id, resident_id)
    local = ((Staff.role == StaffRole.COMMUNITY) & (Staff.community_id == h.community_id)) | (
        (Staff.role == StaffRole.GRID_LEADER) & (Staff.grid_id == h.grid_id)
    )
    out: list[Candidate] = []
    seen: set[int] = set()
    for sid, tid, name in await session.execute(
        select(Staff.id, Staff.telegram_id, Staff.name).where(local).order_by(Staff.id)
    ):
        if tid not in seen:
            seen.add(tid)
            out.append(Candidate(f"s{sid}", tid, name, True))
    for vid, tid, name in await session.execute(
        select(Volunteer.id, Volunteer.telegram_id, Volunteer.name)
        .where(Volunteer.grid_id == h.grid_id, Volunteer.status == VolunteerStatus.APPROVED)
        .order_by(Volunteer.name, Volunteer.id)
    ):
        if tid not in seen:
            seen.add(tid)
            out.append(Candidate(f"v{vid}", tid, name, False))
    out.sort(key=lambda c: c.telegram_id != staff_id)  # oneself first
    return out


async def assign(
    rt: Runtime, session: AsyncSession, staff_id: int, resident_id: int, key: str
) -> care.Household:
    """Name the person behind a button of ``candidates`` (``none``: nobody). A key no longer
    in the list (suspended, moved) is refused as stale; the checks of ``care.assign`` apply."""
    if key == "none":
        return await care.clear_responsible(rt, session, staff_id, resident_id)
    chosen = next(
        (c for c in await candidates(rt, session, staff_id, resident_id) if c.key == key), None
    )
    if chosen is None:
        raise Refused(care.NOT_YOURS)
    return await care.assign(rt, session, staff_id, resident_id, str(chosen.telegram_id))


ISO_DAYS = ("3", "7", "14")


@dataclass(frozen=True)
class BuildingRef:
    id: int
    label: str  # "幸福小区 1栋"
    compound_id: int


async def building_in_scope(session: AsyncSession, staff_id: int, building_id: int) -> BuildingRef:
    """One building of the staff member's grids (else refused as stale)."""
    s = await scope.require_staff(session, staff_id, care.NOT_STAFF)
    row = (
        await session.execute(
            select(Building.id, Compound.name, Building.name, Building.compound_id)
            .join(Compound, Compound.id == Building.compound_id)
            .join(Grid, Grid.id == Building.grid_id)
            .where(Building.id == building_id, s.grid_clause())
        )
    ).first()
    if row is None:
        raise Refused(care.NOT_YOURS)
    return BuildingRef(row[0], f"{row[1]} {row[2]}", row[3])
