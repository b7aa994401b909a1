"""Staff management: who is an admin, community staff or a grid leader, and for what.

Used by the command line (`paotui staff ...`, actor None) and by admins in the bot (`/staff`).
Every change is written to the audit log in the same transaction. Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.errors import Msg, Refused
from bot.i18n import N_
from bot.services import audit
from bot.services.scope import scope_of
from models import Community, Grid, Staff, StaffRole

ROLE_WORDS = {
    StaffRole.ADMIN: N_("admin"),
    StaffRole.COMMUNITY: N_("community staff"),
    StaffRole.GRID_LEADER: N_("grid leader"),
}
# What may be typed for a role (the bot's /staff add and the CLI's --role).
ROLE_ALIASES = {
    "admin": StaffRole.ADMIN,
    "community": StaffRole.COMMUNITY,
    "staff": StaffRole.COMMUNITY,
    "grid_leader": StaffRole.GRID_LEADER,
    "grid-leader": StaffRole.GRID_LEADER,
    "leader": StaffRole.GRID_LEADER,
}
NAME_LIMIT = 64


@dataclass(frozen=True)
class StaffView:
    id: int
    telegram_id: int
    name: str
    role: str
    community_id: int | None
    grid_id: int | None
    scope: str  # "" for an admin, the community's name, or "community · grid"


@dataclass(frozen=True)
class AddResult:
    added: bool  # False: the same role and scope was already there (nothing changed)
    member: StaffView


def parse_role(text: str) -> StaffRole:
    role = ROLE_ALIASES.get(text.strip().lower())
    if role is None:
        raise Refused(N_("Unknown role {role}: use admin, community or grid_leader."), role=text)
    return role


async def is_admin(session: AsyncSession, telegram_id: int) -> bool:
    return (await scope_of(session, telegram_id)).admin


async def require_admin(session: AsyncSession, telegram_id: int) -> None:
    if not await is_admin(session, telegram_id):
        raise Refused(N_("Only admins can add or remove staff."))


async def find_community(session: AsyncSession, text: str) -> Community:
    text = text.strip()
    c = await session.scalar(
        select(Community).where((Community.code == text) | (Community.name == text))
    )
    if c is None:
        raise Refused(N_("There is no community {name}."), name=text)
    return c


async def find_grid(session: AsyncSession, text: str, community_id: int | None = None) -> Grid:
    """A grid by its id or its name (within the community, when one is given)."""
    text = text.strip()
    q = select(Grid).order_by(Grid.id)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    by_name = list(await session.scalars(q.where(Grid.name == text)))
    if not by_name and text.isdigit():
        by_name = list(await session.scalars(q.where(Grid.id == int(text))))
    if not by_name:
        raise Refused(N_("There is no grid {name}."), name=text)
    if len(by_name) > 1:
        raise Refused(
            N_("Several communities have a grid {name}: give the grid's id instead."), name=text
        )
    return by_name[0]


async def _view(session: AsyncSession, s: Staff) -> StaffView:
    scope = ""
    if s.grid_id is not None:
        grid = await session.get(Grid, s.grid_id)
        community = await session.get(Community, grid.community_id) if grid else None
        scope = f"{community.name} · {grid.name}" if grid and community else f"#{s.grid_id}"
    elif s.community_id is not None:
        community = await session.get(Community, s.community_id)
        scope = community.name if community else f"#{s.community_id}"
    return StaffView(s.id, s.telegram_id, s.name, s.role, s.community_id, s.grid_id, scope)


async def list_staff(session: AsyncSession) -> list[StaffView]:
    """Everyone with a staff role: admins first, then community staff, then grid leaders."""
    order: dict[str, int] = {StaffRole.ADMIN: 0, StaffRole.COMMUNITY: 1, StaffRole.GRID_LEADER: 2}
    rows = list(await session.scalars(select(Staff).order_by(Staff.id)))
    views = [await _view(session, s) for s in rows]
    return sorted(views, key=lambda v: (order.get(v.role, 9), v.scope, v.name, v.id))


async def add(
    session: AsyncSession,
    clock: Clock,
    actor: int | None,
    *,
    telegram_id: int,
    name: str,
    role: StaffRole | str,
    community: str | None = None,
    grid: str | None = None,
) -> AddResult:
    """Give someone a staff role. Community staff need a community, grid leaders a grid
    (by name, within --community when given, or by id). The same role twice changes nothing."""
    role = parse_role(role) if not isinstance(role, StaffRole) else role
    name = " ".join(name.split())
    if not name:
        raise Refused(N_("Please give the person's name."))
    if len(name) > NAME_LIMIT:
        raise Refused(N_("The name is too long (at most {limit} characters)."), limit=NAME_LIMIT)
    if telegram_id <= 0:
        raise Refused(N_("A Telegram id is a positive number."))
    community_id: int | None = None
    grid_id: int | None = None
    if role == StaffRole.COMMUNITY:
        if not community:
            raise Refused(N_("Community staff need a community (its code or name)."))
        community_id = (await find_community(session, community)).id
    elif role == StaffRole.GRID_LEADER:
        if not grid:
            raise Refused(N_("A grid leader needs a grid (its name or id)."))
        within = (await find_community(session, community)).id if community else None
        grid_id = (await find_grid(session, grid, within)).id
    existing = await session.scalar(
        select(Staff).where(
            Staff.telegram_id == telegram_id,
            Staff.role == role,
            Staff.community_id.is_not_distinct_from(community_id),
            Staff.grid_id.is_not_distinct_from(grid_id),
        )
    )
    if existing is not None:
        return AddResult(False, await _view(session, existing))
    member = Staff(
        telegram_id=telegram_id,
        name=name,
        role=role,
        community_id=community_id,
        grid_id=grid_id,
        created_at=clock.now(),
    )
    session.add(member)
    await session.flush()
    view = await _view(session, member)
    await audit.record(
        session,
        clock,
        actor,
        "staff.added",
        f"staff:{telegram_id}",
        role=role,
        scope=view.scope,
        name=name,
        via="bot" if actor else "cli",
    )
    return AddResult(True, view)


async def _remove(
    session: AsyncSession, clock: Clock, actor: int | None, rows: list[Staff]
) -> list[StaffView]:
    views = [await _view(session, s) for s in rows]
    if actor is not None and any(v.role == StaffRole.ADMIN for v in views):
        admins = await session.scalar(
            select(func.count()).select_from(Staff).where(Staff.role == StaffRole.ADMIN)
        )
        removed = sum(v.role == StaffRole.ADMIN for v in views)
        if (admins or 0) - removed < 1:
            raise Refused(N_("This is the last admin: add another admin first."))
    if rows:
        await session.execute(delete(Staff).where(Staff.id.in_([s.id for s in rows])))
    for v in views:
        await audit.record(
            session,
            clock,
            actor,
            "staff.removed",
            f"staff:{v.telegram_id}",
            role=v.role,
            scope=v.scope,
            name=v.name,
            via="bot" if actor else "cli",
        )
    return views


async def remove(
    session: AsyncSession,
    clock: Clock,
    actor: int | None,
    *,
    telegram_id: int,
    role: StaffRole | str | None = None,
) -> list[StaffView]:
    """Take away someone's staff roles (only `role` when given). Returns what was removed."""
    q = select(Staff).where(Staff.telegram_id == telegram_id).order_by(Staff.id)
    if role is not None:
        q = q.where(Staff.role == (parse_role(role) if not isinstance(role, StaffRole) else role))
    return await _remove(session, clock, actor, list(await session.scalars(q)))


async def get(session: AsyncSession, staff_id: int) -> StaffView:
    s = await session.get(Staff, staff_id)
    if s is None:
        raise Refused(N_("This person is no longer on the staff list."))
    return await _view(session, s)


async def remove_one(session: AsyncSession, clock: Clock, actor: int, staff_id: int) -> StaffView:
    """An admin removes one staff row (the ✖️ button, after confirming)."""
    await require_admin(session, actor)
    s = await session.get(Staff, staff_id)
    if s is None:
        raise Refused(N_("This person is no longer on the staff list."))
    return (await _remove(session, clock, actor, [s]))[0]


def role_word(role: str) -> Msg:
    return Msg(ROLE_WORDS.get(role, role))  # type: ignore[call-overload]
