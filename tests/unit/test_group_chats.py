"""Following a group upgraded to a supergroup, on the services (real SQLite file)."""

from __future__ import annotations

from sqlalchemy import select

from bot import outbox
from bot.outbox import UPGRADED
from bot.runtime import Runtime
from bot.seed import DEMO
from bot.services.group_chats import follow_migration
from models import Grid, OutboxMessage, OutboxStatus

OLD = DEMO.grids[0].group_chat_id
NEW = -1002000000001


async def test_a_migration_moves_what_is_owed_and_drops_edits_left_behind(rt: Runtime) -> None:
    async with rt.db.session() as s:
        sent = outbox.enqueue(s, rt.clock, chat_id=OLD, text="sent before", is_group=True)
        await s.flush()
        sent.status, sent.message_id = OutboxStatus.SENT, 7
        owed = outbox.enqueue(s, rt.clock, chat_id=OLD, text="owed", is_group=True)
        await s.flush()
        edit_of_sent = outbox.enqueue_edit(s, rt.clock, original=sent, text="taken")
        edit_of_owed = outbox.enqueue_edit(s, rt.clock, original=owed, text="taken too")
    async with rt.db.session() as s:
        assert await follow_migration(rt, s, OLD, NEW)
    async with rt.db.session() as s:
        assert not await follow_migration(rt, s, OLD, NEW)  # the second sign changes nothing
    async with rt.db.read() as s:
        rows = {r.id: r for r in await s.scalars(select(OutboxMessage))}
        grid = await s.scalar(select(Grid).where(Grid.name == DEMO.grids[0].name))
    assert grid is not None and grid.group_chat_id == NEW
    assert rows[sent.id].chat_id == OLD  # what was said stays in the old group
    assert (rows[owed.id].chat_id, rows[owed.id].status) == (NEW, OutboxStatus.PENDING)
    assert (rows[edit_of_owed.id].chat_id, rows[edit_of_owed.id].status) == (
        NEW,
        OutboxStatus.PENDING,
    )
    dropped = rows[edit_of_sent.id]
    assert dropped.status == OutboxStatus.FAILED and dropped.error == UPGRADED
    assert dropped.reported_at is not None  # not an incident for the operator
