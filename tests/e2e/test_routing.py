"""Routing: a new task also goes privately to the volunteers on duty, least loaded first;
urgent medicine to all of them; with nobody on duty, to the grid leader."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.orders import drafts, transitions
from models import OutboxMessage
from tests.factories import ANSWERS, GROUP_1, VOLUNTEERS_1, Harness, Z, buttons, text_of


async def _go_on_duty(h: Harness, tid: int) -> None:
    p = h.person(tid)
    p.say("/duty")
    off = await h.emu.wait_for(tid, lambda m: "v:duty:on" in str(m.get("reply_markup")))
    await p.press_data(off, "v:duty:on")
    await h.wait_edit(tid, off["message_id"], lambda m: "v:duty:off" in str(m.get("reply_markup")))


async def _order(h: Harness, kind: str = "other", urgency: str = "normal") -> int:
    async with h.rt.db.session() as s:
        d = await drafts.start_draft(h.rt, s, 1001, category=kind)
        await drafts.update_draft(h.rt, s, d.id, 1001, urgency=urgency, **ANSWERS[kind])
        oid = (await drafts.submit_draft(h.rt, s, d.id, 1001)).order.id
    h.rt.wake_outbox()
    await h.settle()
    return oid


def _pinged(h: Harness, oid: int) -> list[int]:
    return [
        tid
        for tid in VOLUNTEERS_1
        if any(
            f"o:claim:{oid}" in str(m.get("reply_markup"))
            for m in h.emu.messages(tid)
            if m["outgoing"]
        )
    ]


async def test_pings_go_to_the_least_loaded_on_duty(harness: Harness) -> None:
    h = harness
    h.rt.settings.limits.duty_pings = 2
    await h.register(1001, "周阿姨")
    for tid in VOLUNTEERS_1[:3]:
        await _go_on_duty(h, tid)
    # The first on duty is busy with a task; 2004 stays off duty.
    first = await _order(h)
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, first, VOLUNTEERS_1[0])
    second = await _order(h)
    assert sorted(_pinged(h, second)) == sorted(VOLUNTEERS_1[1:3])
    async with h.rt.db.read() as s:
        order_of_pings = (
            await s.scalars(
                select(OutboxMessage.chat_id)
                .where(
                    OutboxMessage.chat_id.in_(VOLUNTEERS_1),
                    OutboxMessage.text.contains(f"#{second} "),
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    assert order_of_pings == VOLUNTEERS_1[1:3]
    # A ping can be claimed from the private chat; the group post then names the runner.
    ping = next(
        m
        for m in h.emu.messages(VOLUNTEERS_1[1])
        if f"o:claim:{second}" in str(m.get("reply_markup"))
    )
    ans = await h.person(VOLUNTEERS_1[1]).press_data(ping, f"o:claim:{second}")
    assert ans is not None and f"#{second}" in ans["text"]
    post = await h.emu.wait_for(GROUP_1, lambda m: f"#{second} " in text_of(m) and not buttons(m))
    assert "李娜" in text_of(post)
    # Off duty again: no more pings.
    p = h.person(VOLUNTEERS_1[2])
    p.say("/duty")
    on = await h.emu.wait_for(
        VOLUNTEERS_1[2],
        lambda m: (
            "v:duty:off" in str(m.get("reply_markup")) and m["message_id"] > ping["message_id"]
        ),
    )
    await p.press_data(on, "v:duty:off")
    await h.wait_edit(
        VOLUNTEERS_1[2], on["message_id"], lambda m: "v:duty:on" in str(m.get("reply_markup"))
    )
    third = await _order(h)
    assert VOLUNTEERS_1[2] not in _pinged(h, third)


async def test_urgent_medicine_goes_to_everyone_on_duty(harness: Harness) -> None:
    h = harness
    h.rt.settings.limits.duty_pings = 1
    await h.register(1001, "周阿姨")
    for tid in VOLUNTEERS_1:
        await _go_on_duty(h, tid)
    oid = await _order(h, "medicine", "urgent")
    assert sorted(_pinged(h, oid)) == sorted(VOLUNTEERS_1)
    normal = await _order(h, "medicine", "normal")
    assert len(_pinged(h, normal)) == 1


async def test_nobody_on_duty_tells_the_grid_leader(harness: Harness) -> None:
    h = harness
    leader = await h.add_grid_leader(5001, "网格长", grid_id=1)
    leader.say("/help")
    await h.register(1001, "周阿姨")
    oid = await _order(h)
    got = await leader.expect(Z("Nobody is on duty in this grid right now."))
    assert f"#{oid}" in text_of(got) and "13800000000" not in text_of(got)
    assert _pinged(h, oid) == []
    # Volunteers who are not approved cannot go on duty.
    h.person(4999, "路人").say("/duty")
    await h.emu.wait_for(
        4999, Z("Only approved volunteers can go on duty. Sign up with /volunteer.")
    )
