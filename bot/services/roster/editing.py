"""Staff setting a grid's duty roster: who may (the grids their scope covers, see
bot.services.scope), the grid's approved volunteers, who is on each shift day by day, and
putting a volunteer on a shift or taking them off it (the volunteer is told)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import audit, scope
from bot.services.messages import tell
from bot.services.roster.templates import REFUSE_STALE, Slot, shift_label, slot, slots_of_day
from models import Shift, ShiftSwap, Volunteer, VolunteerStatus

# Days ahead staff can set in the bot (today and the next six).
ROSTER_DAYS = 7
REFUSE_NOT_STAFF = N_("Only the grid leader or community staff can set the duty roster.")


@dataclass(frozen=True)
class Colleague:
    id: int
    telegram_id: int
    name: str


async def grid_in_scope(session: AsyncSession, telegram_id: int, grid_id: int) -> str:
    """The grid's name if this person's scope covers it (they may set its roster), else
    refused (REFUSE_NOT_STAFF)."""
    return (await scope.require_grid(session, telegram_id, grid_id, REFUSE_NOT_STAFF)).name


async def colleagues(session: AsyncSession, grid_id: int) -> list[Colleague]:
    """The grid's approved volunteers, in the order they joined."""
    rows = await session.scalars(
        select(Volunteer)
        .where(Volunteer.grid_id == grid_id, Volunteer.status == VolunteerStatus.APPROVED)
        .order_by(Volunteer.id)
    )
    return [Colleague(v.id, v.telegram_id, v.name) for v in rows]


@dataclass(frozen=True)
class SlotRoster:
    slot: Slot
    people: list[Colleague]


@dataclass(frozen=True)
class SlotEditor:
    """One shift of one grid, with every approved volunteer of the grid and whether they are
    on it: what staff see while setting the roster."""

    grid_id: int
    grid: str
    slot: Slot
    volunteers: list[tuple[Colleague, bool]]


async def _on_slot(session: AsyncSession, grid_id: int, s: Slot) -> list[Colleague]:
    rows = await session.execute(
        select(Volunteer.id, Volunteer.telegram_id, Volunteer.name)
        .join(Shift, Shift.volunteer_id == Volunteer.id)
        .where(Shift.grid_id == grid_id, Shift.starts_at == s.starts_at)
        .order_by(Volunteer.id)
    )
    return [Colleague(i, t, n) for i, t, n in rows]


async def roster_of(
    rt: Runtime, session: AsyncSession, grid_id: int, first_day: date, days: int = ROSTER_DAYS
) -> list[SlotRoster]:
    """Who is on each shift of the grid, day by day."""
    out = []
    for i in range(days):
        for s in slots_of_day(rt, first_day + timedelta(days=i)):
            out.append(SlotRoster(s, await _on_slot(session, grid_id, s)))
    return out


async def grid_roster(
    rt: Runtime, session: AsyncSession, telegram_id: int, grid_id: int
) -> tuple[str, list[SlotRoster]]:
    """Staff: the grid's name and its roster from today on."""
    name = await grid_in_scope(session, telegram_id, grid_id)
    return name, await roster_of(rt, session, grid_id, rt.today())


async def slot_editor(
    rt: Runtime, session: AsyncSession, telegram_id: int, grid_id: int, day: date, template: str
) -> SlotEditor:
    name = await grid_in_scope(session, telegram_id, grid_id)
    return await _editor(session, grid_id, name, slot(rt, template, day))


async def _editor(session: AsyncSession, grid_id: int, name: str, s: Slot) -> SlotEditor:
    on = {c.id for c in await _on_slot(session, grid_id, s)}
    everyone = await colleagues(session, grid_id)
    return SlotEditor(grid_id, name, s, [(c, c.id in on) for c in everyone])


async def add_shift(
    session: AsyncSession,
    rt: Runtime,
    grid_id: int,
    s: Slot,
    volunteer_id: int,
    created_by: int | None,
) -> bool:
    """Put a volunteer on a shift; False if they already are (idempotent)."""
    present = await session.scalar(
        select(Shift.id).where(
            Shift.grid_id == grid_id,
            Shift.volunteer_id == volunteer_id,
            Shift.starts_at == s.starts_at,
        )
    )
    if present is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                Shift(
                    grid_id=grid_id,
                    volunteer_id=volunteer_id,
                    template=s.template,
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                    created_by=created_by,
                    created_at=rt.clock.now(),
                )
            )
    except IntegrityError:  # another instance added it at the same moment
        return False
    return True


async def set_shift(
    rt: Runtime,
    session: AsyncSession,
    staff_telegram_id: int,
    grid_id: int,
    day: date,
    template: str,
    volunteer_id: int,
    on: bool,
) -> SlotEditor:
    """Staff put a volunteer on a shift or take them off it. Idempotent: a repeated press
    changes nothing more. The volunteer is told when something changed."""
    grid_name = await grid_in_scope(session, staff_telegram_id, grid_id)
    s = slot(rt, template, day)
    vol = await session.get(Volunteer, volunteer_id)
    if vol is None or vol.grid_id != grid_id or vol.status != VolunteerStatus.APPROVED:
        raise Refused(REFUSE_STALE)
    if s.ends_at <= rt.clock.now():  # the record of a past shift stays as it was
        raise Refused(N_("This shift is already over."))
    if on:
        changed = await add_shift(session, rt, grid_id, s, volunteer_id, staff_telegram_id)
        msg = N_("📅 You are on the roster: {shift}, {grid}. I will remind you before it starts.")
    else:
        ids = (
            await session.scalars(
                select(Shift.id).where(
                    Shift.grid_id == grid_id,
                    Shift.volunteer_id == volunteer_id,
                    Shift.starts_at == s.starts_at,
                )
            )
        ).all()
        if ids:
            await session.execute(delete(ShiftSwap).where(ShiftSwap.shift_id.in_(ids)))
            await session.execute(delete(Shift).where(Shift.id.in_(ids)))
        changed = bool(ids)
        msg = N_("📅 You are no longer on the roster for {shift}, {grid}.")
    if changed:
        await audit.record(
            session,
            rt.clock,
            staff_telegram_id,
            "roster." + ("on" if on else "off"),
            f"grid:{grid_id}",
            volunteer_id=volunteer_id,
            starts_at=s.starts_at.isoformat(),
        )
        await tell(
            rt,
            session,
            vol.telegram_id,
            lambda _: _(msg).format(
                shift=shift_label(s.template, s.starts_at, s.ends_at, _, rt.timezone),
                grid=grid_name,
            ),
        )
    return await _editor(session, grid_id, grid_name, s)
