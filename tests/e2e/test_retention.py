"""Personal data past `[privacy] retention_days` is pruned by the sweep without breaking the
messages still on people's screens (issue 11 point 8): a card blanked in the outbox can still
be edited, because its chat, message id and status stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services.orders import resident_moves
from models import InboxUpdate, Order, OutboxMessage
from tests.factories import GROUP_1, Harness, text_of


async def test_a_blanked_group_post_is_still_edited_when_its_task_ends(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨", phone="13800001001")
    await h.order(aunt, "groceries", "两颗白菜")
    post = await aunt.expect_in(GROUP_1, "#1")
    async with h.rt.db.read() as s:
        assert await s.scalar(select(InboxUpdate.update_id).limit(1)) is not None
        o = await s.scalar(select(Order))
        assert o is not None and o.group_post_id is not None
        post_id = o.group_post_id

    # Every update processed first: one still being handled would be stamped 31 days later.
    await h.settle()
    await h.own_the_sweep()  # its count is the test's sweep's alone
    h.advance(days=31)
    fired = await h.sweep()
    assert fired["privacy retention"] > 0
    async with h.rt.db.read() as s:
        row = await s.get(OutboxMessage, post_id)
        assert row is not None and row.text == "" and row.message_id == post["message_id"]
        # What she sent the bot (her name, her order) is gone; the newest update stays as
        # the polling offset, emptied.
        left = list(await s.scalars(select(InboxUpdate)))
        assert len(left) <= 1 and all(i.payload == "{}" for i in left)
        old = OutboxMessage.created_at < h.rt.clock.now() - timedelta(days=30)
        texts = [m.text for m in await s.scalars(select(OutboxMessage).where(old))]
        assert texts and set(texts) == {""}  # her card, the post, the alerts: all blanked

    # She cancels the old task: the group post (blanked in our table) is still edited in the
    # group, by its message id.
    async with h.rt.db.session() as s:
        await resident_moves.cancel_by_resident(h.rt, s, 1, 1001)
    await h.settle()
    edited = await h.wait_edit(GROUP_1, post["message_id"], lambda m: text_of(m) != text_of(post))
    assert "#1" in text_of(edited) and not edited.get("reply_markup", {}).get("inline_keyboard")
