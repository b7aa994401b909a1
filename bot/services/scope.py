"""Which staff may act on what: the security core.

A staff member acts for a scope: everything (an admin), whole communities (community staff),
single grids (grid leaders). Every service asks the same three questions of it, here and
nowhere else: does it cover this object (``covers``), which rows does it cover (``grid_clause``
for a query), and, the other way round, which staff cover this grid (``staff_covering``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused
from bot.i18n import N_
from models import Community, Grid, Staff, StaffRole

NOT_STAFF = N_("This is for community staff only.")


@dataclass(frozen=True)
class Scope:
    """What one staff member acts for. The empty scope (not staff) covers nothing."""

    admin: bool = False
    communities: frozenset[int] = field(default_factory=frozenset)
    # Grids led (grid leaders), beyond the grids of their communities.
    grids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.admin or bool(self.communities) or bool(self.grids)

    def covers(self, community_id: int | None, grid_id: int | None = None) -> bool:
        """Whether this scope covers an object of this community and grid. Without a grid
        the object is the whole community (setting it up, a notice to all of it): a grid
        leader does not cover that. An object of no community (a notice to everyone) is an
        admin's alone."""
        if self.admin:
            return True
        if community_id is None:
            return False
        if community_id in self.communities:
            return True
        return grid_id is not None and grid_id in self.grids

    def covers_community(self, community_id: int | None) -> bool:
        """The whole community: admins and that community's staff."""
        return self.covers(community_id)

    def clause(
        self,
        community_id: SQLColumnExpression[int | None],
        grid_id: SQLColumnExpression[int | None],
    ) -> ColumnElement[bool]:
        """A WHERE clause for the rows this scope covers, on any table with a community and a
        grid column (``covers`` as SQL): a row of a community in scope, or of a grid led (a
        row of no community, such as a notice to everyone, is an admin's alone)."""
        if self.admin:
            return true()
        if not self.is_staff:
            return false()
        return or_(
            community_id.in_(self.communities),
            and_(community_id.is_not(None), grid_id.in_(self.grids)),
        )

    def grid_clause(self) -> ColumnElement[bool]:
        """A WHERE clause on ``Grid`` for the grids this scope covers."""
        return self.clause(Grid.community_id, Grid.id)

    def community_clause(self) -> ColumnElement[bool]:
        """A WHERE clause on ``Community`` for the communities covered as a whole."""
        if self.admin:
            return true()
        if not self.communities:
            return false()
        return Community.id.in_(self.communities)


EVERYTHING = Scope(admin=True)
NOBODY = Scope()


async def scope_of(session: AsyncSession, telegram_id: int) -> Scope:
    """This person's scope, from their staff rows (the empty scope for anyone else)."""
    rows = (await session.scalars(select(Staff).where(Staff.telegram_id == telegram_id))).all()
    return Scope(
        admin=any(r.role == StaffRole.ADMIN for r in rows),
        communities=frozenset(
            r.community_id
            for r in rows
            if r.role == StaffRole.COMMUNITY and r.community_id is not None
        ),
        grids=frozenset(
            r.grid_id for r in rows if r.role == StaffRole.GRID_LEADER and r.grid_id is not None
        ),
    )


async def require_staff(session: AsyncSession, telegram_id: int, refusal: str = NOT_STAFF) -> Scope:
    """This person's scope; ``refusal`` (a msgid) for anyone who is not staff."""
    scope = await scope_of(session, telegram_id)
    if not scope.is_staff:
        raise Refused(refusal)
    return scope


async def for_community(session: AsyncSession, code: str | None) -> Scope:
    """The command line acts for one community by its code, or (no code) for everything."""
    if code is None:
        return EVERYTHING
    community_id = await session.scalar(select(Community.id).where(Community.code == code))
    if community_id is None:
        raise Refused(N_("There is no community {code}."), code=code)
    return Scope(communities=frozenset({community_id}))


async def grids(session: AsyncSession, scope: Scope) -> list[tuple[int, str]]:
    """The (id, name) of the grids this scope covers, in id order."""
    rows = await session.execute(
        select(Grid.id, Grid.name).where(scope.grid_clause()).order_by(Grid.id)
    )
    return [(gid, name) for gid, name in rows]


async def grid_ids(session: AsyncSession, scope: Scope) -> list[int]:
    return [gid for gid, _ in await grids(session, scope)]


async def grids_of(session: AsyncSession, telegram_id: int) -> list[tuple[int, str]]:
    """The (id, name) of the grids this person acts for (none for anyone but staff)."""
    return await grids(session, await scope_of(session, telegram_id))


async def covered_grid(session: AsyncSession, scope: Scope, grid_id: int) -> Grid | None:
    """The grid if this scope covers it (``covers``), else None (also for no such grid)."""
    grid = await session.get(Grid, grid_id)
    if grid is None or not scope.covers(grid.community_id, grid.id):
        return None
    return grid


async def require_grid(
    session: AsyncSession, telegram_id: int, grid_id: int, refusal: str = NOT_STAFF
) -> Grid:
    """The grid if this person's scope covers it; ``refusal`` (a msgid) otherwise."""
    grid = await covered_grid(session, await scope_of(session, telegram_id), grid_id)
    if grid is None:
        raise Refused(refusal)
    return grid


async def community_codes(session: AsyncSession, scope: Scope) -> list[str]:
    """The codes of the communities this scope covers as a whole, in id order."""
    rows = await session.scalars(
        select(Community.code).where(scope.community_clause()).order_by(Community.id)
    )
    return list(rows)


async def staff_covering(
    session: AsyncSession, community_id: int, grid_id: int, *, admins: bool = True
) -> list[int]:
    """Telegram ids of the staff whose scope covers this grid: admins, the community's staff,
    the grid's leaders. The reverse of ``Scope.covers``, as one query. ``admins=False``: only
    the people on the spot (news of one grid's group is not every admin's business)."""
    local = ((Staff.role == StaffRole.COMMUNITY) & (Staff.community_id == community_id)) | (
        (Staff.role == StaffRole.GRID_LEADER) & (Staff.grid_id == grid_id)
    )
    who = (Staff.role == StaffRole.ADMIN) | local if admins else local
    rows = await session.scalars(select(Staff.telegram_id).where(who))
    return sorted(set(rows))


async def grid_leaders(session: AsyncSession, grid_id: int) -> list[int]:
    """Telegram ids of the grid's leaders (the first people told of a stuck task)."""
    rows = await session.scalars(
        select(Staff.telegram_id).where(
            Staff.role == StaffRole.GRID_LEADER, Staff.grid_id == grid_id
        )
    )
    return sorted(set(rows))
