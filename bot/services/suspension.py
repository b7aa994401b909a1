"""Suspension: staff take a volunteer off (their running tasks go back to the group, their
shifts are removed, their menu is taken away) and may let them work again. Each is a
conditional UPDATE and leaves who decided and when (the audit log)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from bot.db import affected_rows
from bot.errors import Msg, Refused, stale
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import audit, scope
from bot.services.messages import tell, tell_with_menu
from bot.services.orders import transitions
from bot.services.orders.views import RUNNING
from bot.services.volunteers import STATUS_WORDS, VolunteerInfo, info_of, off_duty_notice
from models import (
    Order,
    Shift,
    ShiftSwap,
    Volunteer,
    VolunteerStatus,
)

NOT_IN_SCOPE = N_("Only the staff of this volunteer's grid can suspend or reinstate them.")
NO_SUCH_VOLUNTEER = N_("There is no volunteer {who}.")
NOT_APPROVED = N_("{name} is not an approved volunteer ({status}); nothing was changed.")
REASON_LIMIT = 200


@dataclass(frozen=True)
class VolunteerLine:
    """One volunteer of a grid as the staff's /volunteers screen shows them."""

    id: int
    telegram_id: int
    name: str
    status: str
    on_duty: bool
    running: int  # tasks they hold now
    phone_orders: bool = False  # allowed to take orders by phone (📞 代下单)


@dataclass(frozen=True)
class Suspension:
    info: VolunteerInfo
    changed: bool  # False: they already were in that state; nothing was done
    handed_back: tuple[int, ...] = ()  # the order ids that went back to the group
    shifts_removed: int = 0


async def grid_volunteers(
    session: AsyncSession, staff_telegram_id: int, grid_id: int
) -> tuple[str, list[VolunteerLine]]:
    """The grid's name and its approved and suspended volunteers, for staff in scope."""
    allowed = dict(await scope.grids_of(session, staff_telegram_id))
    if grid_id not in allowed:
        raise Refused(NOT_IN_SCOPE)
    running: ScalarSelect[int] = (
        select(func.count(Order.id))
        .where(Order.volunteer_id == Volunteer.id, Order.status.in_(RUNNING))
        .correlate(Volunteer)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Volunteer, running)
        .where(
            Volunteer.grid_id == grid_id,
            Volunteer.status.in_([VolunteerStatus.APPROVED, VolunteerStatus.SUSPENDED]),
        )
        .order_by(Volunteer.id)
    )
    return allowed[grid_id], [
        VolunteerLine(
            v.id,
            v.telegram_id,
            v.name,
            v.status,
            v.on_duty_since is not None,
            int(n or 0),
            v.can_take_phone_orders,
        )
        for v, n in rows
    ]


async def _target(
    session: AsyncSession, actor: int | None, volunteer_id: int | None, telegram_id: int | None
) -> Volunteer:
    """The volunteer (by row id from a button, or by Telegram id from the command line), if
    the actor's scope covers their grid; the command line (actor None) may act on anyone."""
    if volunteer_id is not None:
        vol = await session.get(Volunteer, volunteer_id)
    else:
        vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id))
    if vol is None:
        if actor is not None:  # a stale or forged button
            raise stale()
        raise Refused(NO_SUCH_VOLUNTEER, who=telegram_id)
    if actor is not None and vol.grid_id not in {
        gid for gid, _name in await scope.grids_of(session, actor)
    }:
        raise Refused(NOT_IN_SCOPE)
    return vol


async def suspend(
    rt: Runtime,
    session: AsyncSession,
    actor: int | None,
    *,
    volunteer_id: int | None = None,
    telegram_id: int | None = None,
    reason: str | None = None,
) -> Suspension:
    """Take a volunteer off (staff in scope, or the command line with actor None), in one
    transaction: status "suspended" (a conditional UPDATE from "approved"), off duty, their
    running tasks back to the group, their future shifts off the roster, they are told, and
    the audit log has it. A suspended volunteer fails every "approved" check, so they are no
    longer pinged, routed, rostered, and cannot claim or act on a card."""
    vol = await _target(session, actor, volunteer_id, telegram_id)
    reason = " ".join((reason or "").split())[:REASON_LIMIT] or None
    now = rt.clock.now()
    changed = await affected_rows(
        session,
        update(Volunteer)
        .where(Volunteer.id == vol.id, Volunteer.status == VolunteerStatus.APPROVED)
        .values(
            status=VolunteerStatus.SUSPENDED,
            on_duty_since=None,
            suspended_at=now,
            suspended_by=actor,
            suspended_reason=reason,
        )
        .execution_options(synchronize_session=False),
    )
    await session.refresh(vol)
    if changed != 1:
        if vol.status == VolunteerStatus.SUSPENDED:
            return Suspension(await info_of(session, vol), changed=False)
        raise Refused(NOT_APPROVED, name=vol.name, status=Msg(STATUS_WORDS[vol.status]))
    running = (
        await session.scalars(
            select(Order.id)
            .where(Order.volunteer_id == vol.id, Order.status.in_(RUNNING))
            .order_by(Order.id)
        )
    ).all()
    handed = [
        oid for oid in running if await transitions.hand_back(rt, session, oid, actor) is not None
    ]
    # Shifts not begun yet come off the roster (with any swap asked about them); the record of
    # a shift already begun stays.
    future = select(Shift.id).where(Shift.volunteer_id == vol.id, Shift.starts_at > now)
    await session.execute(
        delete(ShiftSwap)
        .where(
            or_(
                ShiftSwap.shift_id.in_(future),
                (ShiftSwap.status == "pending") & (ShiftSwap.to_volunteer_id == vol.id),
            )
        )
        .execution_options(synchronize_session=False)
    )
    removed = await affected_rows(
        session,
        delete(Shift)
        .where(Shift.volunteer_id == vol.id, Shift.starts_at > now)
        .execution_options(synchronize_session=False),
    )
    info = await info_of(session, vol)
    await audit.record(
        session,
        rt.clock,
        actor,
        "volunteer.suspended",
        f"volunteer:{vol.id}",
        name=vol.name,
        telegram_id=vol.telegram_id,
        grid_id=vol.grid_id,
        reason=reason,
        orders=handed,
        shifts_removed=removed,
        via="bot" if actor else "cli",
    )
    # Their menu goes back to a resident's (or none): the volunteer's buttons would only refuse.
    await tell_with_menu(
        rt,
        session,
        vol.telegram_id,
        lambda _: _(
            "Your volunteer work for {grid} has been paused by the community staff. The tasks "
            "you were running went back to the group, and new tasks will not come to you. "
            "Thank you for your help so far; if you think this is a mistake, please talk to "
            "your grid leader."
        ).format(grid=info.grid),
    )
    return Suspension(info, True, tuple(handed), removed)


async def reinstate(
    rt: Runtime,
    session: AsyncSession,
    actor: int | None,
    *,
    volunteer_id: int | None = None,
    telegram_id: int | None = None,
) -> Suspension:
    """Let a suspended volunteer work again (a conditional UPDATE back to "approved"); they
    are told, with the button to go on duty; audited."""
    vol = await _target(session, actor, volunteer_id, telegram_id)
    changed = await affected_rows(
        session,
        update(Volunteer)
        .where(Volunteer.id == vol.id, Volunteer.status == VolunteerStatus.SUSPENDED)
        .values(
            status=VolunteerStatus.APPROVED,
            suspended_at=None,
            suspended_by=None,
            suspended_reason=None,
        )
        .execution_options(synchronize_session=False),
    )
    await session.refresh(vol)
    if changed != 1:
        if vol.status == VolunteerStatus.APPROVED:
            return Suspension(await info_of(session, vol), changed=False)
        raise Refused(NOT_APPROVED, name=vol.name, status=Msg(STATUS_WORDS[vol.status]))
    info = await info_of(session, vol)
    await audit.record(
        session,
        rt.clock,
        actor,
        "volunteer.reinstated",
        f"volunteer:{vol.id}",
        name=vol.name,
        telegram_id=vol.telegram_id,
        grid_id=vol.grid_id,
        via="bot" if actor else "cli",
    )
    await tell_with_menu(
        rt,
        session,
        vol.telegram_id,
        lambda _: _(
            "Welcome back! You can volunteer for {grid} again: press 🟢 to go on duty, "
            "or 🙋 on a task in the group."
        ).format(grid=info.grid),
    )
    await tell(rt, session, vol.telegram_id, off_duty_notice)
    return Suspension(info, True)
