"""Who may act on what (bot.services.scope), as one table: role × object × action.

Two communities on a real SQLite file: A (the demo community, grids A1 and A2) and B (grid B1);
the objects are the three grids, each community as a whole, everyone, and a row of a grid that
names no community.
For every role and object, three answers must agree with the expected table: ``covers``, the
object's row appearing in the query clauses (``clause`` on a table with community and grid
columns, ``grid_clause`` on grids, ``community_clause`` on communities), and, for a grid, the
person being among ``staff_covering`` it. Then the services that ask the scope (notices,
roster, reports, setup, people, staff) are run for the same rows, so each is shown to give the
same answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import notices, reports, residents, roster, setup, staff
from bot.services.scope import (
    NOT_STAFF,
    Scope,
    grid_ids,
    grids_of,
    require_staff,
    scope_of,
    staff_covering,
)
from models import (
    Building,
    Community,
    Compound,
    Grid,
    Notice,
    Staff,
    StaffRole,
)
from tests.factories import STAFF

ROLES = {
    "admin": 9201,
    "staff_A": STAFF,
    "staff_B": 9301,
    "leader_A1": 9101,
    "leader_A2": 9102,
    "volunteer": 2001,  # a volunteer of A1
    "resident": 1001,  # a resident of A1
    "stranger": 4242,
}
OBJECTS = ("A1", "A2", "B1", "A", "B", "everyone", "A1*")

# Y: the role covers the object; .: it does not. A1* is a row of grid A1 that names no community
# (the bot never writes one): like everyone, an admin's alone.
EXPECTED_TABLE = """
             A1  A2  B1  A   B   everyone  A1*
admin        Y   Y   Y   Y   Y   Y         Y
staff_A      Y   Y   .   Y   .   .         .
staff_B      .   .   Y   .   Y   .         .
leader_A1    Y   .   .   .   .   .         .
leader_A2    .   Y   .   .   .   .         .
volunteer    .   .   .   .   .   .         .
resident     .   .   .   .   .   .         .
stranger     .   .   .   .   .   .         .
"""


def _expected() -> dict[tuple[str, str], bool]:
    lines = [line.split() for line in EXPECTED_TABLE.strip().splitlines()]
    head, rows = lines[0], lines[1:]
    assert tuple(head) == OBJECTS and [r[0] for r in rows] == list(ROLES)
    return {(r[0], obj): cell == "Y" for r in rows for obj, cell in zip(head, r[1:], strict=True)}


EXPECTED = _expected()
CASES = [(role, obj) for role in ROLES for obj in OBJECTS]


@dataclass(frozen=True)
class World:
    communities: dict[str, int]  # "A", "B" -> id
    grids: dict[str, int]  # "A1", "A2", "B1" -> id
    notices: dict[str, int]  # object -> the id of a notice addressed to it

    def where(self, obj: str) -> tuple[int | None, int | None]:
        """The object as (community id, grid id): a grid, a whole community, or everyone."""
        if obj in self.grids:
            return self.communities[obj[0]], self.grids[obj]
        if obj in self.communities:
            return self.communities[obj], None
        if obj == "A1*":
            return None, self.grids["A1"]
        return None, None


async def _world(rt: Runtime) -> World:
    async with rt.db.session() as s:
        now = rt.clock.now()
        a = await s.scalar(select(Community).where(Community.code == "xingfu"))
        assert a is not None
        a1, a2 = list(await s.scalars(select(Grid.id).where(Grid.community_id == a.id)))
        b = Community(code="heping", name="和平社区", created_at=now)
        s.add(b)
        await s.flush()
        b1 = Grid(community_id=b.id, name="和平网格", group_chat_id=None)
        compound = Compound(community_id=b.id, name="和平小区")
        s.add_all([b1, compound])
        await s.flush()
        s.add(Building(grid_id=b1.id, compound_id=compound.id, name="1栋", code="hp_b1", units=2))
        s.add_all(
            [
                Staff(
                    telegram_id=ROLES["admin"], name="管理员", role=StaffRole.ADMIN, created_at=now
                ),
                Staff(
                    telegram_id=ROLES["staff_B"],
                    name="B",
                    role=StaffRole.COMMUNITY,
                    community_id=b.id,
                    created_at=now,
                ),
                Staff(
                    telegram_id=ROLES["leader_A1"],
                    name="A1",
                    role=StaffRole.GRID_LEADER,
                    grid_id=a1,
                    created_at=now,
                ),
                Staff(
                    telegram_id=ROLES["leader_A2"],
                    name="A2",
                    role=StaffRole.GRID_LEADER,
                    grid_id=a2,
                    created_at=now,
                ),
            ]
        )
        building_a1 = await s.scalar(select(Building.id).where(Building.grid_id == a1))
        assert building_a1 is not None
        await residents.register(
            s,
            rt.clock,
            telegram_id=ROLES["resident"],
            name="周阿姨",
            phone="13800001001",
            building_id=building_a1,
            unit="1",
            room="101",
        )
        world = World({"A": a.id, "B": b.id}, {"A1": a1, "A2": a2, "B1": b1.id}, {})
        for obj in OBJECTS:
            community_id, grid_id = world.where(obj)
            n = Notice(
                community_id=community_id,
                grid_id=grid_id,
                audience="grid" if grid_id else "community" if community_id else "everyone",
                author_telegram_id=ROLES["admin"],
                text=obj,
                recipients=0,
                created_at=now,
            )
            s.add(n)
            await s.flush()
            world.notices[obj] = n.id
    return world


@pytest.fixture
async def world(rt: Runtime) -> World:
    return await _world(rt)


# --- the three answers of the scope itself ----------------------------------------------------


@pytest.mark.parametrize(("role", "obj"), CASES)
async def test_covers_clauses_and_staff_covering_agree(
    rt: Runtime, world: World, role: str, obj: str
) -> None:
    expected = EXPECTED[(role, obj)]
    tid = ROLES[role]
    community_id, grid_id = world.where(obj)
    async with rt.db.read() as s:
        scope = await scope_of(s, tid)
        # 1. covers
        assert scope.covers(community_id, grid_id) is expected
        # 2. the query clauses: a row addressed to the object (a notice) is selected ...
        selected = set(
            await s.scalars(
                select(Notice.id).where(scope.clause(Notice.community_id, Notice.grid_id))
            )
        )
        assert (world.notices[obj] in selected) is expected
        # ... and so is the grid by grid_clause, or the whole community by community_clause.
        if grid_id is not None and community_id is not None:
            in_grids = set(await s.scalars(select(Grid.id).where(scope.grid_clause())))
            assert (grid_id in in_grids) is expected
        elif community_id is not None:
            in_communities = set(
                await s.scalars(select(Community.id).where(scope.community_clause()))
            )
            assert (community_id in in_communities) is expected
        # 3. the reverse: the staff covering this grid.
        if grid_id is not None and community_id is not None:
            assert (tid in await staff_covering(s, community_id, grid_id)) is expected


async def test_not_staff_is_refused_with_the_callers_text(rt: Runtime, world: World) -> None:
    async with rt.db.read() as s:
        for role, tid in ROLES.items():
            is_staff = any(EXPECTED[(role, obj)] for obj in OBJECTS)
            if is_staff:
                assert (await require_staff(s, tid)).is_staff
                continue
            with pytest.raises(Refused) as exc:
                await require_staff(s, tid, "only staff here")
            assert exc.value.message == "only staff here"
            with pytest.raises(Refused) as exc:
                await require_staff(s, tid)
            assert exc.value.message == NOT_STAFF


# --- the same table through the services ------------------------------------------------------


def _covered_grids(role: str) -> set[str]:
    return {obj for obj in ("A1", "A2", "B1") if EXPECTED[(role, obj)]}


@pytest.mark.parametrize("role", ROLES)
async def test_services_use_the_scope(rt: Runtime, world: World, role: str) -> None:
    tid = ROLES[role]
    by_id = {gid: name for name, gid in world.grids.items()}
    grids = _covered_grids(role)
    whole = {c for c in ("A", "B") if EXPECTED[(role, c)]}
    everyone = EXPECTED[(role, "everyone")]
    is_staff = any(EXPECTED[(role, obj)] for obj in OBJECTS)
    async with rt.db.read() as s:
        scope = await scope_of(s, tid)
        # the grids a staff member acts for.
        assert {by_id[g] for g, _ in await grids_of(s, tid)} == grids
        # notices: the grids offered, a whole community only to those covering one, everyone
        # only to admins; the notices listed are the covered ones.
        assert {
            by_id[int(k[1:])] for k, _ in await notices.targets(s, scope, notices.GRID)
        } == grids
        offered = notices.audiences_for(scope)
        assert (notices.COMMUNITY in offered) is bool(whole)
        assert (notices.EVERYONE in offered) is everyone
        if is_staff:
            listed = {n.text for n in await notices.recent(s, tid, limit=20)}
            assert listed == {obj for obj in OBJECTS if EXPECTED[(role, obj)]}
        else:
            with pytest.raises(Refused):
                await notices.recent(s, tid)
        # roster: a grid's roster only for a grid covered.
        for name, gid in world.grids.items():
            if name in grids:
                assert await roster.grid_in_scope(s, tid, gid)
            else:
                with pytest.raises(Refused) as exc:
                    await roster.grid_in_scope(s, tid, gid)
                assert exc.value.message == roster.REFUSE_NOT_STAFF
        # reports: the ledger's grids, and the stats' grid lines.
        data = await reports.ledger_data(s, scope, rt.today(), rt.today(), rt.timezone)
        assert {by_id[g] for g in data.grid_ids} == grids
        st = await reports.stats_for(rt, s, await grid_ids(s, scope), rt.today(), rt.today())
        assert {by_id[g.grid_id] for g in st.grids} == grids
        # setup: the communities one may set up.
        codes = {"A": "xingfu", "B": "heping"}
        if everyone:
            assert await setup.allowed_codes(s, tid) is None
        elif whole:
            assert await setup.allowed_codes(s, tid) == {codes[c] for c in whole}
        else:
            with pytest.raises(Refused) as exc:
                await setup.allowed_codes(s, tid)
            assert exc.value.message == setup.NOT_ALLOWED
        # staff: only admins manage staff.
        assert await staff.is_admin(s, tid) is everyone


def test_an_empty_scope_covers_nothing() -> None:
    nobody = Scope()
    assert not nobody.is_staff
    assert not nobody.covers(1, 1) and not nobody.covers(None)
