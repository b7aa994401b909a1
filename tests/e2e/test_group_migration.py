"""A grid's group changing under the bot: Telegram upgrades it to a supergroup (a new chat id),
or the bot is removed from it. Tasks must keep reaching the volunteers, and staff must hear at
once when they cannot."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select, update

from bot.seed import DEMO
from bot.services.group_chats import GROUP_LOST
from models import Grid
from tests.conftest import TOKEN
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_1, Harness, Z, buttons, text_of

BASIC_GROUP = -4001  # basic groups have short negative ids; supergroups -100...
GRID_1 = DEMO.grids[0].name


async def _grid_group(h: Harness) -> int | None:
    async with h.rt.db.read() as s:
        return await s.scalar(select(Grid.group_chat_id).where(Grid.name == GRID_1))


def _post_of(order_id: int) -> Any:
    return lambda m: (
        f"#{order_id} " in text_of(m) and any(d == f"o:claim:{order_id}" for _, d in buttons(m))
    )


def _order_id(confirmation: dict[str, Any]) -> int:
    return int(text_of(confirmation).split("#")[1].split()[0].rstrip("，,。:："))


async def test_tasks_follow_a_group_upgraded_to_a_supergroup(harness: Harness) -> None:
    h = harness
    # The grid's volunteers use a basic group (bound to the grid, as /bind does).
    h.emu.create_group(
        "第一网格志愿者", members=VOLUNTEERS_1, token=TOKEN, group_id=BASIC_GROUP, chat_type="group"
    )
    async with h.rt.db.session() as s:
        await s.execute(update(Grid).where(Grid.name == GRID_1).values(group_chat_id=BASIC_GROUP))
    a = await h.register(1301, "住户一")
    b = await h.register(1302, "住户二", room="102", phone="13800001302")
    c = await h.register(1303, "住户三", room="103", phone="13800001303")

    first = _order_id(await h.order(a))  # posted in the basic group, still open
    await h.emu.wait_for(BASIC_GROUP, _post_of(first))

    # The next post is on its way when the group is upgraded.
    h.emu.stall(BASIC_GROUP)
    second = _order_id(await h.order(b, category="medicine"))
    deadline = time.monotonic() + 10
    while h.emu.stalled_calls == 0:
        assert time.monotonic() < deadline, "the second post never left"
        await asyncio.sleep(0.02)
    supergroup = h.emu.upgrade_group(BASIC_GROUP)["id"]
    h.emu.release(BASIC_GROUP)  # Telegram answers: 400, migrate_to_chat_id

    # The post under way arrives in the supergroup, and the task still open is posted there
    # again (its post in the old group can no longer be edited).
    await h.emu.wait_for(supergroup, _post_of(second))
    await h.emu.wait_for(supergroup, _post_of(first))
    assert await _grid_group(h) == supergroup
    # A task ordered after the upgrade goes there too, and can be claimed there.
    third = _order_id(await h.order(c, category="gas"))
    post = await h.emu.wait_for(supergroup, _post_of(third))
    runner = h.person(VOLUNTEERS_1[0])
    runner.say("/help")
    await runner.press_data(post, f"o:claim:{third}", chat_id=supergroup)
    await runner.expect(lambda m: f"o:buy:{third}" in str(m.get("reply_markup")))
    await h.settle()
    # The bot's messages of before stay in the old group; nothing more was sent there.
    old = [m for m in h.emu.messages(BASIC_GROUP) if m["outgoing"]]
    assert [_post_of(first)(m) for m in old] == [True]


async def _alerts(h: Harness, who: int) -> list[dict[str, Any]]:
    await h.settle()
    return [m for m in h.emu.messages(who) if m["outgoing"] and Z(GROUP_LOST) in text_of(m)]


async def test_staff_hear_at_once_when_the_bot_is_removed_from_a_grids_group(
    harness: Harness,
) -> None:
    h = harness
    staff = h.person(STAFF)
    staff.say("/help")
    resident = await h.register(1311, "住户四")
    h.emu.remove_bot(GROUP_1)
    alert = await staff.expect(Z(GROUP_LOST))
    assert GRID_1 in text_of(alert)
    # A task after that meets 403 in the group: no second alert for the same loss.
    await h.order(resident)
    assert len(await _alerts(h, STAFF)) == 1
    # Back in the group, then removed again: that is a new loss, told again.
    h.emu.add_bot(GROUP_1)
    await h.settle()
    h.emu.remove_bot(GROUP_1)
    await staff.expect(Z(GROUP_LOST))
    assert len(await _alerts(h, STAFF)) == 2


async def test_staff_hear_once_when_group_posts_are_refused(harness: Harness) -> None:
    """No my_chat_member update (it was missed: the bot was down for longer than Telegram
    keeps updates); the group's 403 is the only sign."""
    h = harness
    staff = h.person(STAFF)
    staff.say("/help")
    resident = await h.register(1312, "住户五")
    h.emu.group(GROUP_1).bots[TOKEN] = "kicked"  # removed while the bot heard nothing
    await h.order(resident)
    await h.order(resident, category="medicine")
    await staff.expect(Z(GROUP_LOST))
    assert len(await _alerts(h, STAFF)) == 1


async def test_the_upgrade_service_message_alone_moves_the_grid(harness: Harness) -> None:
    """Nothing is being sent when the group is upgraded: the service message moves the grid,
    so the next task goes straight to the supergroup."""
    h = harness
    h.emu.create_group(
        "第一网格志愿者", members=VOLUNTEERS_1, token=TOKEN, group_id=BASIC_GROUP, chat_type="group"
    )
    async with h.rt.db.session() as s:
        await s.execute(update(Grid).where(Grid.name == GRID_1).values(group_chat_id=BASIC_GROUP))
    h.emu.upgrade_group(BASIC_GROUP)
    supergroup = h.emu.group(BASIC_GROUP).migrated_to
    deadline = time.monotonic() + 10
    while await _grid_group(h) != supergroup:
        assert time.monotonic() < deadline, "the grid still points at the old group"
        await asyncio.sleep(0.05)
