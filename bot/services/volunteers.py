"""Volunteers joining: sign-up, approval by the grid leader or staff, going on and off duty,
and binding a grid's group chat (suspension and reinstatement: ``suspension.py``). Every
decision is a conditional UPDATE and leaves who decided and when (the audit log)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.buttons import Button, Rows
from bot.db import affected_rows
from bot.errors import Msg, Refused, stale
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import audit, scope
from bot.services.messages import tell, tell_with_menu
from bot.services.people import approved_volunteer
from bot.services.residents import clean_name, clean_phone
from models import (
    Community,
    Grid,
    Staff,
    Volunteer,
    VolunteerStatus,
)

AVAILABILITY = {
    "day": N_("Day shift (08:00-20:00)"),
    "night": N_("Night shift (20:00-08:00)"),
    "both": N_("Day or night"),
}


@dataclass(frozen=True)
class VolunteerInfo:
    id: int
    telegram_id: int
    name: str
    phone: str | None
    grid_id: int
    grid: str
    community: str
    status: str
    availability: str | None
    group_chat_id: int | None


async def info_of(session: AsyncSession, vol: Volunteer) -> VolunteerInfo:
    grid = await session.scalar(
        select(Grid).where(Grid.id == vol.grid_id).options(selectinload(Grid.community))
    )
    assert grid is not None
    return VolunteerInfo(
        id=vol.id,
        telegram_id=vol.telegram_id,
        name=vol.name,
        phone=vol.phone,
        grid_id=grid.id,
        grid=grid.name,
        community=grid.community.name,
        status=vol.status,
        availability=vol.availability,
        group_chat_id=grid.group_chat_id,
    )


async def get(session: AsyncSession, telegram_id: int) -> VolunteerInfo | None:
    vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id))
    return await info_of(session, vol) if vol else None


async def all_grids(
    session: AsyncSession, codes: Collection[str] | None = None
) -> list[tuple[int, str]]:
    """Every grid (id, label), or (one bot per community) those of these communities."""
    q = select(Grid).options(selectinload(Grid.community)).order_by(Grid.id)
    if codes is not None:
        q = q.join(Community, Community.id == Grid.community_id).where(Community.code.in_(codes))
    return [(g.id, f"{g.community.name} · {g.name}") for g in await session.scalars(q)]


async def deciders(session: AsyncSession, grid_id: int) -> list[int]:
    """Who may approve a volunteer of this grid: its grid leader, the community's staff,
    admins."""
    grid = await session.get(Grid, grid_id)
    assert grid is not None
    return await scope.staff_covering(session, grid.community_id, grid_id)


def decision_buttons(volunteer_id: int, _: Gettext) -> list[list[Button]]:
    return [
        [
            Button(_("✅ Approve"), f"v:ok:{volunteer_id}"),
            Button(_("❌ Reject"), f"v:no:{volunteer_id}"),
        ]
    ]


async def sign_up(
    rt: Runtime,
    session: AsyncSession,
    *,
    telegram_id: int,
    name: str,
    phone: str,
    grid_id: int,
    availability: str,
) -> VolunteerInfo:
    """A new volunteer asks to join a grid; the grid's deciders are asked, with buttons."""
    if await session.scalar(select(Volunteer).where(Volunteer.telegram_id == telegram_id)):
        raise Refused(N_("You have already signed up. Send /volunteer to see where it stands."))
    if availability not in AVAILABILITY:
        raise stale()
    if await session.get(Grid, grid_id) is None:
        raise stale()
    vol = Volunteer(
        telegram_id=telegram_id,
        name=clean_name(name),
        phone=clean_phone(phone),
        grid_id=grid_id,
        status=VolunteerStatus.PENDING,
        availability=availability,
        created_at=rt.clock.now(),
    )
    session.add(vol)
    await session.flush()
    info = await info_of(session, vol)

    def ask(_: Gettext) -> tuple[str, Rows]:
        text = _("🙋 New volunteer for {grid}: {name}, {phone}, {when}. Approve?").format(
            grid=f"{info.community} · {info.grid}",
            name=info.name,
            phone=info.phone,
            when=_(AVAILABILITY[availability]),
        )
        return text, decision_buttons(vol.id, _)

    await tell(rt, session, await deciders(session, grid_id), ask)
    return info


async def decide(
    rt: Runtime,
    session: AsyncSession,
    volunteer_id: int,
    decider_telegram_id: int,
    approve: bool,
    invite_link: str | None = None,
) -> VolunteerInfo:
    """Approve or reject, once: the first decision wins (a conditional UPDATE)."""
    vol = await session.get(Volunteer, volunteer_id)
    if vol is None:
        raise stale()
    if decider_telegram_id not in await deciders(session, vol.grid_id):
        raise Refused(N_("Only the grid leader or community staff can decide on volunteers."))
    target = VolunteerStatus.APPROVED if approve else VolunteerStatus.REJECTED
    changed = await affected_rows(
        session,
        update(Volunteer)
        .where(Volunteer.id == volunteer_id, Volunteer.status == VolunteerStatus.PENDING)
        .values(status=target, decided_by=decider_telegram_id, decided_at=rt.clock.now())
        .execution_options(synchronize_session=False),
    )
    await session.refresh(vol)
    if changed != 1:
        raise Refused(
            N_("Already decided: {name} is {status}."),
            name=vol.name,
            status=Msg(STATUS_WORDS[vol.status]),
        )
    info = await info_of(session, vol)
    await audit.record(
        session,
        rt.clock,
        decider_telegram_id,
        "volunteer.approved" if approve else "volunteer.rejected",
        f"volunteer:{vol.id}",
        name=vol.name,
        grid_id=vol.grid_id,
    )

    def told(_: Gettext) -> str:
        if not approve:
            return _(
                "Thank you for offering to help. The grid does not need more volunteers right "
                "now; the community staff may contact you."
            )
        text = _(
            "Welcome to the volunteers of {grid}! New tasks appear in the grid's group; "
            "press 🙋 to take one."
        ).format(grid=info.grid)
        if invite_link:
            text += "\n" + _("Join the group: {link}").format(link=invite_link)
        return (
            text
            + "\n\n"
            + _(
                "When you can work, press 🟢 to go on duty: new tasks of your grid then also "
                "come to you here. /duty turns it on or off; /help tells the rest."
            )
        )

    # The decision brings the menu of the new role at once (a message carries either a menu
    # or buttons, so the button to go on duty follows as /duty shows it).
    await tell_with_menu(rt, session, vol.telegram_id, told)
    if approve:
        await tell(rt, session, vol.telegram_id, off_duty_notice)
    return info


STATUS_WORDS = {
    "pending": N_("waiting"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "suspended": N_("suspended"),
}


# --- duty: an approved volunteer checks in and out -------------------------------------------

NOT_ON_DUTY_VOLUNTEER = N_("Only approved volunteers can go on duty. Sign up with /volunteer.")


async def on_duty(session: AsyncSession, telegram_id: int) -> bool:
    return (
        await approved_volunteer(session, telegram_id, NOT_ON_DUTY_VOLUNTEER)
    ).on_duty_since is not None


async def set_duty(rt: Runtime, session: AsyncSession, telegram_id: int, on: bool) -> bool:
    """A volunteer checks in or out of duty; returns whether they are on duty now."""
    vol = await approved_volunteer(session, telegram_id, NOT_ON_DUTY_VOLUNTEER)
    if on and vol.on_duty_since is None:
        vol.on_duty_since = rt.clock.now()
    elif not on:
        vol.on_duty_since = None
    return vol.on_duty_since is not None


def off_duty_notice(_: Gettext) -> tuple[str, Rows]:
    """What /duty shows someone off duty, with its button (after approval, reinstatement)."""
    return (
        _("⚪ You are off duty: new tasks only appear in the group."),
        duty_buttons(_, on_duty=False),
    )


def duty_buttons(_: Gettext, on_duty: bool) -> Rows:
    """The one button that turns duty the other way (v:duty:on|off)."""
    if on_duty:
        return [[Button(_("⚪ Go off duty"), "v:duty:off")]]
    return [[Button(_("🟢 Go on duty"), "v:duty:on")]]


async def bindable_grids(session: AsyncSession, telegram_id: int) -> list[tuple[int, str]]:
    """The grids this person may bind a group to (community staff and admins)."""
    covered = await scope.scope_of(session, telegram_id)
    if not covered.is_staff:
        return []
    q = (
        select(Grid)
        .where(covered.grid_clause())
        .order_by(Grid.id)
        .options(selectinload(Grid.community))
    )
    return [(g.id, f"{g.community.name} · {g.name}") for g in await session.scalars(q)]


NOT_YOUR_GROUP = N_(
    "This group is the task group of {grid}, which you are not responsible for. Only the "
    "staff of {grid} can bind it to another grid."
)


async def _group_owner(session: AsyncSession, chat_id: int) -> Grid | None:
    return await session.scalar(
        select(Grid).where(Grid.group_chat_id == chat_id).options(selectinload(Grid.community))
    )


async def check_rebind(session: AsyncSession, telegram_id: int, chat_id: int) -> None:
    """Refuse if this group already is the task group of a grid outside the person's scope:
    taking it would silently cut that grid off from its volunteers."""
    owner = await _group_owner(session, chat_id)
    if owner is not None and owner.id not in dict(await bindable_grids(session, telegram_id)):
        raise Refused(NOT_YOUR_GROUP, grid=f"{owner.community.name} · {owner.name}")


async def bind_group(
    rt: Runtime, session: AsyncSession, telegram_id: int, grid_id: int, chat_id: int
) -> str:
    """Make this group chat the grid's task group (one group per grid, one grid per group).
    A group that belonged to another grid moves only if the person's scope covers that grid
    too; the move is audited with both grids, and the old grid's staff are told."""
    allowed = dict(await bindable_grids(session, telegram_id))
    if grid_id not in allowed:
        raise Refused(N_("Only community staff can bind a group to a grid."))
    await check_rebind(session, telegram_id, chat_id)
    other = await _group_owner(session, chat_id)
    moved = other is not None and other.id != grid_id
    if other is not None and moved:
        other.group_chat_id = None  # the group moves to the new grid
        await session.flush()
    grid = await session.get(Grid, grid_id)
    assert grid is not None
    grid.group_chat_id = chat_id
    if other is None or not moved:
        await audit.record(
            session, rt.clock, telegram_id, "group.bound", f"grid:{grid_id}", chat_id=chat_id
        )
        return allowed[grid_id]
    await audit.record(
        session,
        rt.clock,
        telegram_id,
        "group.rebound",
        f"grid:{grid_id}",
        chat_id=chat_id,
        from_grid_id=other.id,
        to_grid_id=grid_id,
    )
    # The old grid's leaders and community staff: their new tasks no longer reach a group.
    told = await scope.staff_covering(session, other.community_id, other.id, admins=False)
    who = await session.scalar(select(Staff.name).where(Staff.telegram_id == telegram_id))
    old, new = f"{other.community.name} · {other.name}", allowed[grid_id]
    await tell(
        rt,
        session,
        sorted(set(told) - {telegram_id}),
        lambda _: _(
            "ℹ️ {who} made the task group of {old} the task group of {new}. New tasks of {old} "
            "are no longer posted there: send /bind in the right group to link it again."
        ).format(who=who or telegram_id, old=old, new=new),
    )
    return allowed[grid_id]
