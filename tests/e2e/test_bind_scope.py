"""/bind (issue 11 point 5): staff of one community cannot take another community's task group;
a re-binding within the actor's scope is audited with both grids and the old grid's staff are
told."""

from __future__ import annotations

from sqlalchemy import select

from bot.seed import ensure_admins
from bot.services.volunteers import NOT_YOUR_GROUP
from models import AuditEntry, Community, Grid, Staff, StaffRole
from tests.factories import GROUP_1, STAFF, Harness, Z, buttons, text_of

ADMIN = 9100
B_STAFF, B_LEADER = 7001, 7002  # community staff and grid leader of 阳光社区


async def _community_b(h: Harness) -> tuple[int, int]:
    """阳光社区 with one grid whose task group is a group all of them are in; returns the
    grid's id and the group's chat id."""
    for tid, name in ((B_STAFF, "孙主任"), (B_LEADER, "钱组长"), (ADMIN, "管理员")):
        h.person(tid, name)
    gid = h.emu.create_group(
        "阳光一网格 跑腿群", members=[B_STAFF, B_LEADER, STAFF, ADMIN], with_bot=True
    )["id"]
    async with h.rt.db.session() as s:
        await ensure_admins(s, h.rt.clock, [ADMIN])
        now = h.rt.clock.now()
        c = Community(code="yangguang", name="阳光社区", created_at=now)
        s.add(c)
        await s.flush()
        g = Grid(community_id=c.id, name="阳光一网格", group_chat_id=gid)
        s.add(g)
        await s.flush()
        s.add(Staff(telegram_id=B_STAFF, name="孙主任", role=StaffRole.COMMUNITY,
                    community_id=c.id, created_at=now))  # fmt: skip
        s.add(Staff(telegram_id=B_LEADER, name="钱组长", role=StaffRole.GRID_LEADER,
                    grid_id=g.id, created_at=now))  # fmt: skip
        grid_id = g.id
    for tid in (B_STAFF, B_LEADER, STAFF, ADMIN):
        h.person(tid).say("/help")  # they have talked to the bot, so it may write to them
    await h.settle()
    return grid_id, gid


async def _bindings(h: Harness) -> dict[int, int | None]:
    async with h.rt.db.read() as s:
        return {g.id: g.group_chat_id for g in await s.scalars(select(Grid).order_by(Grid.id))}


async def test_staff_of_one_community_cannot_take_another_communitys_group(
    harness: Harness,
) -> None:
    h = harness
    b_grid, b_group = await _community_b(h)
    before = await _bindings(h)
    refusal = Z(NOT_YOUR_GROUP)
    # 赵书记 (幸福社区) sends /bind in 阳光社区's group: refused at once, no grid offered.
    h.emu.send_text(STAFF, "/bind", chat_id=b_group)
    said = await h.emu.wait_for(b_group, lambda m: refusal in text_of(m))
    assert "阳光社区 · 阳光一网格" in text_of(said) and not buttons(said)
    # A forged press of a grid button there changes nothing either.
    got = await h.person(STAFF).press_data(said, "g:bind:1", chat_id=b_group, force=True)
    assert got is not None and refusal in got["text"]
    assert await _bindings(h) == before and before[b_grid] == b_group
    async with h.rt.db.read() as s:
        assert (await s.scalars(select(AuditEntry.action))).all() == []
    await h.settle()
    assert not [m for m in h.person(B_STAFF).chat() if "ℹ️" in text_of(m)]


async def test_an_in_scope_rebind_is_audited_and_the_old_grids_staff_are_told(
    harness: Harness,
) -> None:
    h = harness
    b_grid, b_group = await _community_b(h)
    # An admin's scope covers every grid: they move 阳光社区's group to 第一网格.
    h.emu.send_text(ADMIN, "/bind", chat_id=b_group)
    ask = await h.emu.wait_for(b_group, Z("Make this group the task group of which grid?"))
    await h.person(ADMIN).press_data(ask, "g:bind:1", chat_id=b_group)
    await h.wait_edit(b_group, ask["message_id"], lambda m: not buttons(m))
    bindings = await _bindings(h)
    assert bindings[1] == b_group and bindings[b_grid] is None
    async with h.rt.db.read() as s:
        [entry] = await s.scalars(select(AuditEntry))
    assert (entry.actor_telegram_id, entry.action, entry.target) == (
        ADMIN,
        "group.rebound",
        "grid:1",
    )
    assert (entry.details["from_grid_id"], entry.details["to_grid_id"]) == (b_grid, 1)
    assert entry.details["chat_id"] == b_group
    # The old grid's leader and community staff are told; 幸福社区's staff are not.
    for tid in (B_STAFF, B_LEADER):
        told = await h.person(tid).expect("ℹ️")
        assert "阳光社区 · 阳光一网格" in text_of(told) and "幸福社区 · 第一网格" in text_of(told)
    await h.settle()
    assert not [m for m in h.person(STAFF).chat() if text_of(m).startswith("ℹ️")]
    assert GROUP_1 != b_group
