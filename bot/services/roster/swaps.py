"""Shift swaps: a volunteer hands a shift to a colleague of the grid who is free then; the
colleague accepts (one conditional UPDATE of the shift's volunteer) or declines; both are told."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Button, Rows
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services.messages import tell
from bot.services.roster.editing import Colleague, colleagues
from bot.services.roster.templates import REFUSE_STALE
from bot.services.roster.volunteer_shifts import (
    REFUSE_NOT_VOLUNTEER,
    ShiftView,
    busy,
    own_shift,
    shift_view,
)
from models import Shift, ShiftSwap, Volunteer, VolunteerStatus


async def swap_candidates(
    rt: Runtime, session: AsyncSession, telegram_id: int, shift_id: int
) -> tuple[ShiftView, list[Colleague]]:
    """The colleagues of the grid who could take this shift (not on a shift at that time)."""
    vol, v = await own_shift(rt, session, telegram_id, shift_id)
    free = [
        c
        for c in await colleagues(session, v.grid_id)
        if c.id != vol.id and not await busy(session, c.id, v.starts_at, v.ends_at)
    ]
    return v, free


@dataclass(frozen=True)
class SwapView:
    id: int
    status: str
    shift: ShiftView
    from_telegram_id: int
    from_name: str
    to_telegram_id: int
    to_name: str


def swap_buttons(swap_id: int, _: Gettext) -> Rows:
    return [
        [
            Button(_("✅ Accept"), f"sw:a:{swap_id}"),
            Button(_("✖️ Decline"), f"sw:n:{swap_id}"),
        ]
    ]


async def request_swap(
    rt: Runtime, session: AsyncSession, telegram_id: int, shift_id: int, to_volunteer_id: int
) -> SwapView:
    """Ask a colleague of the grid to take one's shift; they get the request with buttons.
    Asking the same colleague again for the same shift sends nothing new."""
    vol, v = await own_shift(rt, session, telegram_id, shift_id)
    to = await session.get(Volunteer, to_volunteer_id)
    if (
        to is None
        or to.id == vol.id
        or to.grid_id != v.grid_id
        or to.status != VolunteerStatus.APPROVED
    ):
        raise Refused(REFUSE_STALE)
    if await busy(session, to.id, v.starts_at, v.ends_at):
        raise Refused(N_("{name} is already on a shift at that time."), name=to.name)
    pending = await session.scalar(
        select(ShiftSwap).where(
            ShiftSwap.shift_id == shift_id,
            ShiftSwap.from_volunteer_id == vol.id,
            ShiftSwap.to_volunteer_id == to.id,
            ShiftSwap.status == "pending",
        )
    )
    if pending is None:
        pending = ShiftSwap(
            shift_id=shift_id,
            from_volunteer_id=vol.id,
            to_volunteer_id=to.id,
            status="pending",
            created_at=rt.clock.now(),
        )
        session.add(pending)
        await session.flush()
        swap_id = pending.id
        await tell(
            rt,
            session,
            to.telegram_id,
            lambda _: (
                _("🔁 {name} asks you to take their shift: {shift}, {grid}.").format(
                    name=vol.name, shift=v.label(_, rt.timezone), grid=v.grid
                ),
                swap_buttons(swap_id, _),
            ),
        )
    return SwapView(pending.id, "pending", v, vol.telegram_id, vol.name, to.telegram_id, to.name)


async def _swap_for(
    session: AsyncSession, telegram_id: int, swap_id: int
) -> tuple[ShiftSwap, Volunteer, Volunteer]:
    """The swap, if this person is the one asked."""
    sw = await session.get(ShiftSwap, swap_id, populate_existing=True)
    if sw is None:
        raise Refused(N_("This request no longer exists: the shift was changed."))
    to = await session.get(Volunteer, sw.to_volunteer_id)
    frm = await session.get(Volunteer, sw.from_volunteer_id)
    assert to is not None and frm is not None
    if to.telegram_id != telegram_id:
        raise Refused(REFUSE_STALE)
    if to.status != VolunteerStatus.APPROVED:
        raise Refused(REFUSE_NOT_VOLUNTEER)
    return sw, frm, to


def _answered(status: str) -> Refused:
    if status == "accepted":
        return Refused(N_("This request was already accepted."))
    if status == "declined":
        return Refused(N_("This request was already declined."))
    return Refused(N_("This request is no longer open: the shift has been taken or changed."))


async def request_state(
    rt: Runtime, session: AsyncSession, telegram_id: int, swap_id: int
) -> Refused | None:
    """Where a request to this person stands, said as its refusal would say it, once their
    buttons no longer apply (answered, withdrawn, the shift changed or over); None while it
    is open, or if it is not theirs."""
    sw = await session.get(ShiftSwap, swap_id, populate_existing=True)
    to = await session.get(Volunteer, sw.to_volunteer_id) if sw else None
    if sw is None or to is None or to.telegram_id != telegram_id:
        return None
    if sw.status != "pending":
        return _answered(sw.status)
    v = await shift_view(session, sw.shift_id)
    if v is None or v.volunteer_id != sw.from_volunteer_id:
        return _answered("withdrawn")
    if v.ends_at <= rt.clock.now():
        return Refused(N_("This shift is already over."))
    return None


async def _decide(rt: Runtime, session: AsyncSession, swap_id: int, status: str) -> bool:
    res = await affected_rows(
        session,
        update(ShiftSwap)
        .where(ShiftSwap.id == swap_id, ShiftSwap.status == "pending")
        .values(status=status, decided_at=rt.clock.now())
        .execution_options(synchronize_session=False),
    )
    return res == 1


async def accept_swap(
    rt: Runtime, session: AsyncSession, telegram_id: int, swap_id: int
) -> SwapView:
    """The colleague takes the shift: one conditional UPDATE of the shift's volunteer, judged
    by its row count, so a second press, a stale button or a shift changed meanwhile is
    refused. The requester is told; other requests for the same shift are withdrawn."""
    sw, frm, to = await _swap_for(session, telegram_id, swap_id)
    if sw.status != "pending":
        raise _answered(sw.status)
    v = await shift_view(session, sw.shift_id)
    now = rt.clock.now()
    if v is None or v.grid_id != to.grid_id or v.volunteer_id != frm.id:
        raise _answered("withdrawn")
    if v.ends_at <= now:
        raise Refused(N_("This shift is already over."))
    if await busy(session, to.id, v.starts_at, v.ends_at):
        raise Refused(N_("You are already on a shift at that time."))
    moved = await affected_rows(
        session,
        update(Shift)
        .where(Shift.id == sw.shift_id, Shift.volunteer_id == frm.id, Shift.ends_at > now)
        # The reminder is owed again, to the new volunteer.
        .values(volunteer_id=to.id, reminded_at=None)
        .execution_options(synchronize_session=False),
    )
    if moved != 1 or not await _decide(rt, session, swap_id, "accepted"):
        raise _answered("withdrawn")
    await session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.shift_id == sw.shift_id, ShiftSwap.status == "pending")
        .values(status="withdrawn", decided_at=now)
        .execution_options(synchronize_session=False)
    )
    v = await shift_view(session, sw.shift_id)
    assert v is not None
    await tell(
        rt,
        session,
        frm.telegram_id,
        lambda _: _("✅ {name} took your shift: {shift}, {grid}.").format(
            name=to.name, shift=v.label(_, rt.timezone), grid=v.grid
        ),
    )
    return SwapView(swap_id, "accepted", v, frm.telegram_id, frm.name, to.telegram_id, to.name)


async def decline_swap(
    rt: Runtime, session: AsyncSession, telegram_id: int, swap_id: int
) -> SwapView:
    sw, frm, to = await _swap_for(session, telegram_id, swap_id)
    if not await _decide(rt, session, swap_id, "declined"):
        now_swap = await session.get(ShiftSwap, swap_id, populate_existing=True)
        assert now_swap is not None
        raise _answered(now_swap.status)
    v = await shift_view(session, sw.shift_id)
    if v is None:
        raise _answered("withdrawn")
    await tell(
        rt,
        session,
        frm.telegram_id,
        lambda _: _(
            "✖️ {name} cannot take your shift: {shift}. Send /shifts to ask someone else."
        ).format(name=to.name, shift=v.label(_, rt.timezone)),
    )
    return SwapView(swap_id, "declined", v, frm.telegram_id, frm.name, to.telegram_id, to.name)
