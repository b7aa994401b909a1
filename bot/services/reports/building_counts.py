"""/stats' lines on buildings by status (issue 17): per community, how many of its buildings
(in the reader's grids) have each status, counted by GROUP BY in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Gettext
from bot.status_config import BuildingStatusSection
from models import Building, Community, Grid

HEAD = N_("🏢 Buildings by status:")
NONE_SET = N_("no status")


@dataclass(frozen=True)
class StatusCount:
    community: str
    community_code: str
    status: str | None  # a key of [building_status]; None: none set
    buildings: int


async def by_status(session: AsyncSession, grid_ids: Sequence[int]) -> list[StatusCount]:
    rows = await session.execute(
        select(Community.name, Community.code, Building.status, func.count())
        .join(Grid, Grid.id == Building.grid_id)
        .join(Community, Community.id == Grid.community_id)
        .where(Building.grid_id.in_(grid_ids))
        .group_by(Community.id, Community.name, Community.code, Building.status)
        .order_by(Community.id)
    )
    return [StatusCount(*r) for r in rows.all()]


def lines(counts: list[StatusCount], conf: BuildingStatusSection, _: Gettext) -> list[str]:
    """ "• 幸福社区: 封控区 2 · 防范区 1 · no status 2", the statuses in the config's order; none
    when no building has a status."""
    if all(c.status is None for c in counts):
        return []
    out = ["", _(HEAD)]
    by_comm: dict[tuple[str, str], dict[str | None, int]] = {}
    for c in counts:
        by_comm.setdefault((c.community, c.community_code), {})[c.status] = c.buildings
    for (name, code), n in by_comm.items():
        order = [s.key for s in conf.of(code)]
        keys = sorted(n, key=lambda k: order.index(k) if k in order else len(order))
        parts = [
            f"{_(NONE_SET) if k is None else (s.label if (s := conf.get(code, k)) else k)} {n[k]}"
            for k in keys
        ]
        out.append("• " + _("{label}: {value}").format(label=name, value=" · ".join(parts)))
    return out
