"""Who a notice may go to: the audiences and targets a staff member's scope offers
(bot.services.scope), the check of what they chose, and which notices they may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.errors import Refused
from bot.i18n import N_
from bot.services.scope import Scope, scope_of
from models import (
    Building,
    Community,
    Grid,
    Notice,
)

COMMUNITY, GRID, BUILDING, CARE, VOLUNTEERS, EVERYONE = (
    "community",
    "grid",
    "building",
    "care",
    "volunteers",
    "everyone",
)
AUDIENCE_LABELS = {
    COMMUNITY: N_("🏘 The whole community"),
    GRID: N_("🗺 A grid"),
    BUILDING: N_("🏢 A building"),
    CARE: N_("❤️ The care list"),
    VOLUNTEERS: N_("🙋 The volunteers"),
    EVERYONE: N_("🌐 Everyone (all communities)"),
}
NOT_YOURS = N_("You may not send notices to this audience.")


def audiences_for(scope: Scope) -> list[str]:
    """Audiences offered to this person: everyone for admins only; a whole community for
    admins and community staff; grids, buildings, care list and volunteers for all staff."""
    if not scope.is_staff:
        return []
    out = [GRID, BUILDING, CARE, VOLUNTEERS]
    if scope.admin or scope.communities:
        out.insert(0, COMMUNITY)
    if scope.admin:
        out.append(EVERYONE)
    return out


async def targets(session: AsyncSession, scope: Scope, audience: str) -> list[tuple[str, str]]:
    """What an audience can be aimed at, as (key, label): ``c<id>`` a community, ``g<id>`` a
    grid, ``b<id>`` a building. The care list and the volunteers: a community in full scope,
    or a grid led. Everyone: no target."""
    if audience not in audiences_for(scope):
        return []
    if audience == EVERYONE:
        return [("all", "")]
    communities: list[tuple[str, str]] = []
    if audience in (COMMUNITY, CARE, VOLUNTEERS) and (scope.admin or scope.communities):
        q = select(Community).where(scope.community_clause()).order_by(Community.id)
        communities = [(f"c{c.id}", c.name) for c in await session.scalars(q)]
    if audience == COMMUNITY:
        return communities
    gq = select(Grid).order_by(Grid.id)
    if audience == BUILDING:
        bq = (
            select(Building)
            .join(Grid, Grid.id == Building.grid_id)
            .where(scope.grid_clause())
            .options(selectinload(Building.compound))
            .order_by(Building.id)
        )
        # "幸福小区 1栋": compounds often number their buildings alike.
        return [(f"b{b.id}", building_label(b)) for b in await session.scalars(bq)]
    if audience in (CARE, VOLUNTEERS):
        if scope.admin or scope.communities:
            return communities
        gq = gq.where(Grid.id.in_(scope.grids))
    else:
        gq = gq.where(scope.grid_clause())
    return [(f"g{g.id}", g.name) for g in await session.scalars(gq)]


def building_label(b: Building) -> str:
    """A building with its compound, as people say it: "幸福小区 1栋"."""
    return f"{b.compound.name} {b.name}" if b.compound and b.compound.name else b.name


@dataclass(frozen=True)
class Target:
    audience: str
    key: str
    label: str
    community_id: int | None
    grid_id: int | None
    building_id: int | None


async def resolve(session: AsyncSession, scope: Scope, audience: str, key: str) -> Target:
    """Check that ``key`` is a target this person may use for ``audience``."""
    allowed = dict(await targets(session, scope, audience))
    if key not in allowed:
        raise Refused(NOT_YOURS)
    label = allowed[key]
    if key == "all":
        return Target(audience, key, label, None, None, None)
    kind, ident = key[0], int(key[1:])
    if kind == "c":
        return Target(audience, key, label, ident, None, None)
    if kind == "g":
        grid = await session.get(Grid, ident)
        assert grid is not None
        return Target(audience, key, label, grid.community_id, ident, None)
    building = await session.get(Building, ident)
    assert building is not None
    grid = await session.get(Grid, building.grid_id)
    assert grid is not None
    return Target(audience, key, label, grid.community_id, grid.id, ident)


async def visible(session: AsyncSession, telegram_id: int, notice_id: int) -> Notice:
    """A notice this person may see and act on: admins all; others those in their scope."""
    notice = await session.get(Notice, notice_id)
    scope = await scope_of(session, telegram_id)
    if notice is None or not scope.covers(notice.community_id, notice.grid_id):
        raise Refused(N_("You may not see this notice."))
    return notice
