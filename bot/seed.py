"""The demo community for `make run` without a token, and for the tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.runtime import Runtime
from models import (
    Building,
    Community,
    Compound,
    Grid,
    Staff,
    StaffRole,
    Volunteer,
    VolunteerStatus,
)


@dataclass(frozen=True)
class DemoGrid:
    name: str
    group_chat_id: int
    group_title: str
    # (compound, building name, code, units)
    buildings: list[tuple[str, str, str, int]]
    volunteers: list[tuple[int, str]]


@dataclass(frozen=True)
class Demo:
    community: str = "幸福社区"
    code: str = "xingfu"
    hotline: str = "0371-12345678"  # a made-up number of the community's office
    grids: list[DemoGrid] = field(
        default_factory=lambda: [
            DemoGrid(
                "第一网格",
                -1001000000001,
                "幸福社区·第一网格 跑腿群",
                [
                    ("幸福小区", "1栋", "xf1", 3),
                    ("幸福小区", "2栋", "xf2", 3),
                    ("幸福小区", "3栋", "xf3", 2),
                ],
                [(2001, "王刚"), (2002, "李娜"), (2003, "张伟"), (2004, "刘洋")],
            ),
            DemoGrid(
                "第二网格",
                -1001000000002,
                "幸福社区·第二网格 跑腿群",
                [("和平里", "5栋", "hp5", 4), ("和平里", "6栋", "hp6", 4)],
                [(2101, "陈静"), (2102, "杨帆")],
            ),
        ]
    )
    staff: list[tuple[int, str]] = field(default_factory=lambda: [(9001, "赵书记")])
    residents: list[tuple[int, str]] = field(
        default_factory=lambda: [(1001, "周阿姨"), (1002, "吴大爷")]
    )
    # The sandbox's partner merchant (bot/demo_supplies.py): its contact person, and the
    # buildings of its open group-buy.
    merchants: list[tuple[int, str]] = field(default_factory=lambda: [(6001, "刘老板")])
    merchant_name: str = "爱心超市"
    merchant_kind: str = "超市"
    groupbuy_buildings: tuple[str, ...] = ("xf1", "xf2")


DEMO = Demo()


async def seed_demo(session: AsyncSession, clock: Clock, demo: Demo = DEMO) -> bool:
    """Create the demo community once; False if it is already there."""
    if await session.scalar(select(Community).where(Community.code == demo.code)):
        return False
    now = clock.now()
    community = Community(code=demo.code, name=demo.community, hotline=demo.hotline, created_at=now)
    session.add(community)
    await session.flush()
    compounds: dict[str, Compound] = {}
    for g in demo.grids:
        grid = Grid(community_id=community.id, name=g.name, group_chat_id=g.group_chat_id)
        session.add(grid)
        await session.flush()
        for compound_name, name, code, units in g.buildings:
            comp = compounds.get(compound_name)
            if comp is None:
                comp = Compound(community_id=community.id, name=compound_name)
                session.add(comp)
                await session.flush()
                compounds[compound_name] = comp
            session.add(
                Building(grid_id=grid.id, compound_id=comp.id, name=name, code=code, units=units)
            )
        for tid, vname in g.volunteers:
            session.add(
                Volunteer(
                    telegram_id=tid,
                    name=vname,
                    phone=f"1390000{tid:04d}",
                    grid_id=grid.id,
                    status=VolunteerStatus.APPROVED,
                    created_at=now,
                )
            )
    for tid, sname in demo.staff:
        session.add(
            Staff(
                telegram_id=tid,
                name=sname,
                role=StaffRole.COMMUNITY,
                community_id=community.id,
                created_at=now,
            )
        )
    await session.flush()
    return True


# The demo community's distribution point and checkpoint (issue 17), as a places CSV: the
# sandbox imports it once, with the community, so 🏢 and the building statuses can be tried.
DEMO_PLACES = (
    "community_code,place,kind,location,pickup_times,buildings\n"
    'xingfu,幸福小区北门配送点,point,北门外空地,"每天 9:00-11:00, 16:00-18:00",xf1 xf2 xf3\n'
    "xingfu,和平里东门卡口,checkpoint,和平里东门,每天 8:00-20:00,hp5 hp6\n"
)


async def seed_demo_places(rt: Runtime, session: AsyncSession) -> None:
    """The demo's places (`DEMO_PLACES`), once the demo community is there."""
    from bot.services import places

    result = await places.import_csv(rt, session, DEMO_PLACES)
    assert not result.errors, result.errors


async def ensure_admins(session: AsyncSession, clock: Clock, telegram_ids: list[int]) -> None:
    """The first admins come from the config."""
    for tid in telegram_ids:
        exists = await session.scalar(
            select(Staff).where(Staff.telegram_id == tid, Staff.role == StaffRole.ADMIN)
        )
        if exists is None:
            session.add(
                Staff(telegram_id=tid, name=str(tid), role=StaffRole.ADMIN, created_at=clock.now())
            )
