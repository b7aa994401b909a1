"""Keeping the group readable when its budget (20 messages a minute) is short: new tasks that
would wait are folded into one post; each line collapses when its task is taken."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.orders import drafts, resident_moves
from models import Order, OutboxMessage
from tests.factories import ANSWERS, GROUP_1, VOLUNTEERS_1, Harness, Z, buttons, text_of


async def test_tasks_waiting_for_the_group_go_out_as_one_post(harness: Harness) -> None:
    h = harness
    await h.register(1001, "周阿姨")
    # The group's budget is spent: nothing goes out while three tasks come in.
    await h.service.dispatcher.stop()
    ids = []
    for kind in ("groceries", "medicine", "other"):
        async with h.rt.db.session() as s:
            d = await drafts.start_draft(h.rt, s, 1001, category=kind)
            await drafts.update_draft(h.rt, s, d.id, 1001, urgency="today", **ANSWERS[kind])
            ids.append((await drafts.submit_draft(h.rt, s, d.id, 1001)).order.id)
    async with h.rt.db.read() as s:
        posts = set(await s.scalars(select(Order.group_post_id).where(Order.id.in_(ids))))
        waiting = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == GROUP_1))
        ).all()
    assert len(posts) == 1 and len(waiting) == 1
    await h.service.dispatcher.start()
    await h.settle()
    got = [m for m in h.emu.messages(GROUP_1) if m["outgoing"]]
    assert len(got) == 1
    post = got[0]
    assert Z("🆕 New tasks: {n}") in text_of(post)
    for oid in ids:
        assert f"#{oid} " in text_of(post)
    assert "13800000000" not in text_of(post) and "101" not in text_of(post)
    assert sorted(d for _, d in buttons(post)) == sorted(f"o:claim:{oid}" for oid in ids)

    # Claiming one from the folded post: its line says who took it, the others stay open.
    runner = h.person(VOLUNTEERS_1[1])
    runner.say("/help")
    ans = await runner.press_data(post, f"o:claim:{ids[1]}", chat_id=GROUP_1)
    assert ans is not None and f"#{ids[1]}" in ans["text"]
    edited = await h.wait_edit(GROUP_1, post["message_id"], lambda m: "李娜" in text_of(m))
    assert sorted(d for _, d in buttons(edited)) == sorted(
        f"o:claim:{oid}" for oid in (ids[0], ids[2])
    )
    # The resident cancels another: its line collapses too; one button is left.
    async with h.rt.db.session() as s:
        await resident_moves.cancel_by_resident(h.rt, s, ids[2], 1001)
    h.rt.wake_outbox()
    edited = await h.wait_edit(GROUP_1, post["message_id"], lambda m: len(buttons(m)) == 1)
    assert buttons(edited)[0][1] == f"o:claim:{ids[0]}"
    assert f"#{ids[2]} " in text_of(edited)


async def test_a_full_waiting_post_is_not_folded_into(harness: Harness) -> None:
    """Two hundred orders at once into one group whose budget is spent: a post holds at most
    MAX_FOLDED open tasks and the rest wait in posts of their own. One post of them all was
    refused by Telegram as too long, and none of its tasks reached the group."""
    from bot.services.orders.routing import MAX_FOLDED

    h = harness
    h.rt.settings.limits.max_open_orders = 50
    await h.register(1001, "周阿姨")
    await h.service.dispatcher.stop()
    n = MAX_FOLDED + 3
    ids = []
    for _i in range(n):
        async with h.rt.db.session() as s:
            d = await drafts.start_draft(h.rt, s, 1001, category="groceries")
            long = {**ANSWERS["groceries"], "description": "白菜两颗，鸡蛋一盒，" * 8}
            await drafts.update_draft(h.rt, s, d.id, 1001, urgency="today", **long)
            ids.append((await drafts.submit_draft(h.rt, s, d.id, 1001)).order.id)
    async with h.rt.db.read() as s:
        posts = list(await s.scalars(select(Order.group_post_id).where(Order.id.in_(ids))))
    assert len(set(posts)) == 2 and max(posts.count(p) for p in set(posts)) == MAX_FOLDED
    await h.service.dispatcher.start()
    await h.settle()
    got = [m for m in h.emu.messages(GROUP_1) if m["outgoing"]]
    assert len(got) == 2
    claims = sorted(d for m in got for _, d in buttons(m))
    assert claims == sorted(f"o:claim:{oid}" for oid in ids)  # every task reached the group
