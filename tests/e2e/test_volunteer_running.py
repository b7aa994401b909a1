"""Running tasks: the cap on tasks per volunteer, "cannot be done", /tasks and /history."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.orders import drafts, resident_moves
from models import Order, OrderEvent
from tests.factories import (
    ANSWERS,
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Z,
    buttons,
    run_to_door,
    text_of,
)


async def _orders(h: Harness, tid: int, n: int) -> None:
    for _ in range(n):
        async with h.rt.db.session() as s:
            d = await drafts.start_draft(h.rt, s, tid, category="other")
            await drafts.update_draft(h.rt, s, d.id, tid, urgency="normal", **ANSWERS["other"])
            await drafts.submit_draft(h.rt, s, d.id, tid)
    h.rt.wake_outbox()


async def test_a_volunteer_runs_at_most_the_cap(harness: Harness) -> None:
    h = harness
    cap = h.rt.settings.limits.max_active_tasks
    await h.register(1001, "周阿姨")
    await h.register(1002, "吴大爷", room="202")
    await _orders(h, 1001, 3)
    await _orders(h, 1002, 1)
    await h.settle()
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")
    # One claim button per task (tasks posted in the same moment may share a post).
    claims = [
        (m, d)
        for m in h.emu.messages(GROUP_1)
        if m["outgoing"]
        for _, d in buttons(m)
        if d.startswith("o:claim:")
    ]
    assert len(claims) == cap + 1
    answers = [await wang.press_data(m, d) for m, d in claims]
    refused = answers[-1]
    assert (
        refused is not None
        and Z("You are already running {n} tasks. Finish one first, so others can help.")
        in refused["text"]
    )
    async with h.rt.db.read() as s:
        claimed = (await s.scalars(select(Order).where(Order.status == "claimed"))).all()
    assert len(claimed) == cap
    # /tasks in the group lists what is still open, with a claim button.
    h.emu.send_text(VOLUNTEERS_1[1], "/tasks", chat_id=GROUP_1)
    listing = await h.emu.wait_for(GROUP_1, Z("Open tasks: {n}"))
    assert [d for _, d in buttons(listing)] == [f"o:claim:{cap + 1}"]
    assert "🙋" in buttons(listing)[0][0]


async def test_cannot_be_done_tells_resident_and_staff(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    boss.say("/help")
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt, "medicine")
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")
    post = await aunt.expect_in(GROUP_1, "#1 ")
    await wang.press_data(post, "o:claim:1")
    card = await h.emu.wait_for(VOLUNTEERS_1[0], lambda m: "o:nf:1" in str(m.get("reply_markup")))
    await wang.press_data(card, "o:nf:1")
    why = await h.wait_edit(
        VOLUNTEERS_1[0], card["message_id"], lambda m: "o:nfr:1:stock" in str(m.get("reply_markup"))
    )
    await wang.press_data(why, "o:nfr:1:stock")
    await h.wait_edit(
        VOLUNTEERS_1[0],
        card["message_id"],
        lambda m: Z("Task #{id} is closed as not possible. Thank you for trying.") in text_of(m),
    )
    told = await aunt.expect(Z("Sorry, {title} could not be done ({time})."))
    assert Z("Out of stock everywhere I tried") in text_of(told)
    staff_msg = await boss.expect(Z("{title} could not be done: {reason}"))
    assert "周阿姨" in text_of(staff_msg)
    await h.settle()
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
        last = await s.scalar(select(OrderEvent).order_by(OrderEvent.id.desc()))
    assert o is not None and o.status == "unfulfillable"
    assert last is not None and last.to_status == "unfulfillable" and last.note
    # The group post no longer offers it.
    edited = next(m for m in h.emu.messages(GROUP_1) if m["message_id"] == post["message_id"])
    assert buttons(edited) == []
    # And it is in the runner's history.
    wang.say("/history")
    hist = await wang.expect(Z("Your last finished tasks:"))
    assert "#1" in text_of(hist)


async def test_history_lists_finished_tasks_with_thanks(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await run_to_door(h, 1, VOLUNTEERS_1[0], GROUP_1)
    async with h.rt.db.session() as s:
        await resident_moves.confirm_receipt(h.rt, s, 1, 1001)
        await resident_moves.rate(h.rt, s, 1, 1001, 5)
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/history")
    hist = await wang.expect(Z("Your last finished tasks:"))
    assert "#1" in text_of(hist) and "⭐⭐⭐⭐⭐" in text_of(hist)
    h.person(2002).say("/history")
    await h.emu.wait_for(2002, Z("No finished tasks yet."))
