"""A volunteer's own shifts: one shift as the volunteer reads it (`ShiftView`), their
upcoming shifts, and the checks that a shift is theirs and that they are free at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import people
from bot.services.roster.templates import shift_label
from models import Grid, Shift, Volunteer

REFUSE_NOT_VOLUNTEER = N_("Only approved volunteers have shifts. Sign up with /volunteer.")


@dataclass(frozen=True)
class ShiftView:
    id: int
    grid_id: int
    grid: str
    volunteer_id: int
    volunteer_telegram_id: int
    volunteer_name: str
    template: str | None
    starts_at: datetime
    ends_at: datetime

    def label(self, _: Gettext, tz: str) -> str:
        return shift_label(self.template, self.starts_at, self.ends_at, _, tz)


async def shift_view(session: AsyncSession, shift_id: int) -> ShiftView | None:
    row = await session.execute(
        select(Shift, Volunteer, Grid)
        .join(Volunteer, Volunteer.id == Shift.volunteer_id)
        .join(Grid, Grid.id == Shift.grid_id)
        .where(Shift.id == shift_id)
        .execution_options(populate_existing=True)
    )
    found = row.first()
    if found is None:
        return None
    sh, vol, grid = found
    return ShiftView(
        sh.id,
        grid.id,
        grid.name,
        vol.id,
        vol.telegram_id,
        vol.name,
        sh.template,
        sh.starts_at,
        sh.ends_at,
    )


async def upcoming(rt: Runtime, session: AsyncSession, telegram_id: int) -> list[ShiftView]:
    """The volunteer's shifts not yet over, soonest first."""
    vol = await people.approved_volunteer(session, telegram_id, REFUSE_NOT_VOLUNTEER)
    ids = (
        await session.scalars(
            select(Shift.id)
            .where(Shift.volunteer_id == vol.id, Shift.ends_at > rt.clock.now())
            .order_by(Shift.starts_at)
            .limit(20)
        )
    ).all()
    views = [await shift_view(session, i) for i in ids]
    return [v for v in views if v is not None]


async def own_shift(
    rt: Runtime, session: AsyncSession, telegram_id: int, shift_id: int
) -> tuple[Volunteer, ShiftView]:
    vol = await people.approved_volunteer(session, telegram_id, REFUSE_NOT_VOLUNTEER)
    v = await shift_view(session, shift_id)
    if v is None or v.volunteer_id != vol.id:
        raise Refused(N_("This shift is no longer yours. Send /shifts to see your shifts."))
    if v.ends_at <= rt.clock.now():
        raise Refused(N_("This shift is already over."))
    return vol, v


async def busy(session: AsyncSession, volunteer_id: int, starts: datetime, ends: datetime) -> bool:
    """Whether the volunteer is on a shift overlapping [starts, ends)."""
    return bool(
        await session.scalar(
            select(
                exists().where(
                    Shift.volunteer_id == volunteer_id,
                    Shift.starts_at < ends,
                    Shift.ends_at > starts,
                )
            )
        )
    )
