"""Orders taken by phone (电话点单): staff, grid leaders and the volunteers staff allow find
the household that called (by phone, or compound → building → room) or register it on the
spot without Telegram, then fill in the ordinary order form for it (`orders.drafts`).

Who may: staff for the households of their scope; a volunteer with ``can_take_phone_orders``
for those of their own grid. Every function re-checks it. The household hears of its order
through the person who entered it: their call-back prompts and ✅ 已通知居民 are here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused, stale
from bot.i18n import N_, gettext_for, local_time
from bot.runtime import Runtime
from bot.services import audit, residents, scope
from bot.services.messages import tell_with_menu
from bot.services.people import language_of
from models import Building, Compound, Grid, Order, Resident, Volunteer, VolunteerStatus

NOT_ALLOWED = N_(
    "Only community staff, grid leaders and the volunteers they allow can take orders by phone."
)
NOTHING_FOUND = N_("No household in your grids has the phone number {query}.")
MOST = 20  # households listed at once
# The steps at which the household must hear from us: the person who took the order calls.
CALL_BACK_STEPS = ("claimed", "delivered", "unfulfillable")


async def reach(session: AsyncSession, telegram_id: int) -> scope.Scope:
    """The grids this person takes phone orders for: a staff member's scope, or an allowed
    volunteer's own grid; refused otherwise."""
    s = await scope.scope_of(session, telegram_id)
    if s.is_staff:
        return s
    vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id))
    if vol is not None and vol.status == VolunteerStatus.APPROVED and vol.can_take_phone_orders:
        return scope.Scope(grids=frozenset({vol.grid_id}))
    raise Refused(NOT_ALLOWED)


async def may_take(session: AsyncSession, telegram_id: int) -> bool:
    try:
        await reach(session, telegram_id)
    except Refused:
        return False
    return True


@dataclass(frozen=True)
class Item:
    id: int
    label: str


async def compounds(session: AsyncSession, telegram_id: int) -> list[Item]:
    s = await reach(session, telegram_id)
    rows = await session.execute(
        select(Compound.id, Compound.name)
        .join(Building, Building.compound_id == Compound.id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(s.grid_clause())
        .group_by(Compound.id, Compound.name)
        .order_by(Compound.id)
    )
    return [Item(cid, name) for cid, name in rows]


async def buildings(session: AsyncSession, telegram_id: int, compound_id: int) -> list[Item]:
    s = await reach(session, telegram_id)
    rows = await session.execute(
        select(Building.id, Compound.name, Building.name)
        .join(Compound, Compound.id == Building.compound_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(s.grid_clause(), Building.compound_id == compound_id)
        .order_by(Building.id)
    )
    return [Item(bid, f"{cname} {bname}") for bid, cname, bname in rows]


def _label(r: Resident) -> str:
    phone = "📵" if r.telegram_id is None else ""
    return f"{r.building.name} {r.unit}-{r.room} {r.name} {phone}".strip()


async def _households(session: AsyncSession, telegram_id: int, *conditions: object) -> list[Item]:
    s = await reach(session, telegram_id)
    rows = await session.scalars(
        select(Resident)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(s.grid_clause(), Resident.forgotten_at.is_(None), *conditions)  # type: ignore[arg-type]
        .order_by(Building.id, Resident.unit, Resident.room)
        .limit(MOST)
    )
    found = rows.all()
    for r in found:
        await session.refresh(r, ["building"])
    return [Item(r.id, _label(r)) for r in found]


async def in_building(session: AsyncSession, telegram_id: int, building_id: int) -> list[Item]:
    return await _households(session, telegram_id, Resident.building_id == building_id)


async def by_phone(session: AsyncSession, telegram_id: int, query: str) -> list[Item]:
    """The households whose phone is the number typed (or ends with its last digits, five
    or more); a room number ("302") also finds, as on the care list."""
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 5:
        cond: object = Resident.phone.endswith(digits[-11:])
    elif digits and digits == query.strip():
        cond = or_(Resident.room == digits, Resident.phone.endswith(digits))
    else:
        raise Refused(NOTHING_FOUND, query=query.strip()[:20])
    found = await _households(session, telegram_id, cond)
    if not found:
        raise Refused(NOTHING_FOUND, query=query.strip()[:20])
    return found


async def household_in_reach(session: AsyncSession, telegram_id: int, resident_id: int) -> Resident:
    """The household, if this person takes phone orders for its grid (else refused)."""
    s = await reach(session, telegram_id)
    r = await session.scalar(
        select(Resident)
        .join(Building, Building.id == Resident.building_id)
        .join(Grid, Grid.id == Building.grid_id)
        .where(Resident.id == resident_id, Resident.forgotten_at.is_(None), s.grid_clause())
    )
    if r is None:
        raise stale()
    return r


async def reaches(session: AsyncSession, telegram_id: int, resident_id: int) -> bool:
    """Whether this person still takes phone orders for this household (a phone repeat's staff
    member may have left the staff, or another grid)."""
    try:
        await household_in_reach(session, telegram_id, resident_id)
    except Refused:
        return False
    return True


async def building_label(session: AsyncSession, telegram_id: int, building_id: int) -> str:
    s = await reach(session, telegram_id)
    row = (
        await session.execute(
            select(Compound.name, Building.name)
            .join(Compound, Compound.id == Building.compound_id)
            .join(Grid, Grid.id == Building.grid_id)
            .where(Building.id == building_id, s.grid_clause())
        )
    ).first()
    if row is None:
        raise stale()
    return f"{row[0]} {row[1]}"


async def register_household(
    rt: Runtime,
    session: AsyncSession,
    telegram_id: int,
    *,
    building_id: int,
    name: str,
    unit: str,
    room: str,
    phone: str,
) -> Item:
    """A household that called, registered on the spot without Telegram: the same checks as a
    resident's own registration. One already registered with this phone in the building is
    found, not made twice."""
    await building_label(session, telegram_id, building_id)  # in reach, or refused
    b = await session.get(Building, building_id)
    assert b is not None
    values = {
        "name": residents.clean_name(name),
        "phone": residents.clean_phone(phone),
        "unit": residents.clean_unit(unit, b.units),
        "room": residents.clean_room(room),
    }
    same = await session.scalar(
        select(Resident).where(
            Resident.building_id == building_id,
            Resident.phone == values["phone"],
            Resident.forgotten_at.is_(None),
        )
    )
    if same is not None:
        await session.refresh(same, ["building"])
        return Item(same.id, _label(same))
    now = rt.clock.now()
    r = Resident(
        telegram_id=None, building_id=building_id, created_at=now, updated_at=now, **values
    )
    session.add(r)
    await session.flush()
    await audit.record(session, rt.clock, telegram_id, "phone.household", f"resident:{r.id}")
    await session.refresh(r, ["building"])
    return Item(r.id, _label(r))


# --- calling the household back ---------------------------------------------------------------

CALL_BACK = N_("📞 Please call the resident back and tell them:")
CALLED_BACK = N_("✅ {name} called the resident back ({time}).")


async def called_back(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int, step: str, name: str
) -> str:
    """✅ 已通知居民: recorded (audit: who, which order, which step); returns the line that
    says who called back and when, for the pressed message."""
    o = await session.get(Order, order_id)
    if o is None or step not in CALL_BACK_STEPS:
        raise stale()
    if o.entered_by != telegram_id:
        s = await scope.scope_of(session, telegram_id)
        if not s.covers(o.community_id, o.grid_id):
            raise stale()
    await audit.record(
        session, rt.clock, telegram_id, "phone.called_back", f"order:{o.id}", step=step
    )
    _ = gettext_for(await language_of(session, telegram_id, rt.default_language))
    return _(CALLED_BACK).format(name=name, time=local_time(rt.clock.now(), rt.timezone))


# --- volunteers staff allow ---------------------------------------------------------------------

ALLOWED = N_(
    "The staff allowed you to take orders by phone for residents of your grid: 📞 is in your "
    "menu below."
)
STOPPED = N_("The staff ended your taking of orders by phone: 📞 is gone from your menu.")


async def allow_volunteer(
    rt: Runtime, session: AsyncSession, staff_id: int, volunteer_id: int, allow: bool
) -> int:
    """Staff allow an approved volunteer of their grids to take orders by phone (``allow``), or
    stop them; recorded, and the volunteer told with their menu as it now is. The volunteer's
    grid. A press on an older list (already so, or no longer theirs to change): refused."""
    vol = await session.get(Volunteer, volunteer_id)
    allowed = dict(await scope.grids_of(session, staff_id))
    if vol is None or vol.grid_id not in allowed or vol.status != VolunteerStatus.APPROVED:
        raise stale()
    if vol.can_take_phone_orders == allow:
        raise stale()
    vol.can_take_phone_orders = allow
    target = f"volunteer:{vol.id}"
    if allow:
        await audit.record(session, rt.clock, staff_id, "phone.allowed", target)
    else:
        await audit.record(session, rt.clock, staff_id, "phone.stopped", target)
    await session.flush()  # the menu sent below is read from the row as it now is
    await tell_with_menu(rt, session, vol.telegram_id, lambda _: _(ALLOWED if allow else STOPPED))
    return vol.grid_id
