"""Communities, grids, compounds and buildings: the places orders are routed by."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models import Building, Community, Compound, Grid


@dataclass(frozen=True)
class Place:
    id: int
    name: str


@dataclass(frozen=True)
class BuildingInfo:
    id: int
    code: str
    name: str
    units: int
    compound: str
    grid_id: int
    grid: str
    community_id: int
    community: str
    community_code: str

    @property
    def label(self) -> str:
        return f"{self.compound} {self.name}"


async def communities(session: AsyncSession, codes: Collection[str] | None = None) -> list[Place]:
    """Every community, or (one bot per community) those of these codes."""
    q = select(Community).order_by(Community.id)
    if codes is not None:
        q = q.where(Community.code.in_(codes))
    return [Place(c.id, c.name) for c in await session.scalars(q)]


async def compounds(session: AsyncSession, community_id: int) -> list[Place]:
    rows = await session.scalars(
        select(Compound).where(Compound.community_id == community_id).order_by(Compound.id)
    )
    return [Place(c.id, c.name) for c in rows]


async def buildings(session: AsyncSession, compound_id: int) -> list[Place]:
    rows = await session.scalars(
        select(Building).where(Building.compound_id == compound_id).order_by(Building.id)
    )
    return [Place(b.id, b.name) for b in rows]


async def grids(session: AsyncSession, community_id: int | None = None) -> list[Place]:
    q = select(Grid).order_by(Grid.id)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return [Place(g.id, g.name) for g in await session.scalars(q)]


def _info(b: Building) -> BuildingInfo:
    return BuildingInfo(
        id=b.id,
        code=b.code,
        name=b.name,
        units=b.units,
        compound=b.compound.name,
        grid_id=b.grid_id,
        grid=b.grid.name,
        community_id=b.grid.community_id,
        community=b.grid.community.name,
        community_code=b.grid.community.code,
    )


_LOAD = (
    selectinload(Building.compound),
    selectinload(Building.grid).selectinload(Grid.community),
)


async def building(session: AsyncSession, building_id: int) -> BuildingInfo | None:
    b = await session.scalar(select(Building).where(Building.id == building_id).options(*_LOAD))
    return _info(b) if b else None


async def building_by_code(session: AsyncSession, code: str) -> BuildingInfo | None:
    b = await session.scalar(select(Building).where(Building.code == code).options(*_LOAD))
    return _info(b) if b else None
