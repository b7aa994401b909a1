"""Escalation: nothing waits unnoticed. Each step fires once, with a controllable clock, also
across a restart of the bot and with two sweeps at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.services import volunteers
from bot.services.orders import drafts, transitions
from handlers.app import SWEEPS_DONE
from models import Order, OrderEvent
from tests.factories import (
    ANSWERS,
    GROUP_1,
    GROUP_2,
    STAFF,
    VOLUNTEERS_1,
    VOLUNTEERS_2,
    Harness,
    Person,
    Z,
    buttons,
    text_of,
)
from tests.waiting import until

LEADER = 5001
PING_AGAIN = "⏰ Still waiting for a volunteer after {waited}. Can you take it?"
COMMUNITY = "📣 From {grid}, waiting {waited}: any volunteer of the community may take it."
STAFF_TOLD = (
    "⚠️ Task #{id} in {grid} has had no volunteer for {waited}. It is now open to "
    "the whole community; you can take it too if you run errands."
)
REMIND_RUNNER = (
    "⏰ Task #{id} has not moved for {waited}. Please move it on with the buttons, "
    "or give it back if you cannot finish it."
)
TELL_LEADER = (
    "⚠️ Task #{id} ({place}) has not moved for {waited}: {status}, run by {name}. "
    "Please check with them."
)


async def _setup(h: Harness) -> dict[int, Person]:
    """A grid leader for grid 1, one volunteer on duty there, staff and a resident, each with
    a private chat open with the bot."""
    await h.add_grid_leader(LEADER, "网格长", grid_id=1)
    people = {tid: h.person(tid) for tid in (LEADER, STAFF, VOLUNTEERS_1[0], VOLUNTEERS_2[0])}
    people[LEADER] = h.person(LEADER, "网格长")
    for p in people.values():
        p.say("/help")
    await h.register(1001, "周阿姨")
    async with h.rt.db.session() as s:
        await volunteers.set_duty(h.rt, s, VOLUNTEERS_1[0], True)
    await h.settle()
    for p in people.values():
        p.seen = max([m["message_id"] for m in p.chat()] or [0])
    # Only the test sweeps from here: it counts what each of its sweeps fired, and a pass of the
    # JobQueue in between (under load a test met one) would fire a step first.
    assert h.service.app.job_queue is not None
    for job in h.service.app.job_queue.get_jobs_by_name("sweep"):
        job.enabled = False
    return people


async def _order(h: Harness, urgency: str = "normal", category: str = "other") -> int:
    async with h.rt.db.session() as s:
        d = await drafts.start_draft(h.rt, s, 1001, category=category)
        await drafts.update_draft(h.rt, s, d.id, 1001, urgency=urgency, **ANSWERS[category])
        oid = (await drafts.submit_draft(h.rt, s, d.id, 1001)).order.id
    h.rt.wake_outbox()
    await h.settle()
    return oid


def _count(h: Harness, chat_id: int, needle: str, oid: int) -> int:
    return sum(
        1
        for m in h.emu.messages(chat_id)
        if m["outgoing"] and needle in text_of(m) and f"#{oid}" in text_of(m)
    )


async def _events(h: Harness, oid: int) -> list[str]:
    async with h.rt.db.read() as s:
        rows = await s.scalars(
            select(OrderEvent.note)
            .where(OrderEvent.order_id == oid, OrderEvent.note.like("escalation:%"))
            .order_by(OrderEvent.id)
        )
        return [n or "" for n in rows]


async def test_an_unclaimed_task_goes_to_duty_leader_then_the_community(
    harness: Harness,
) -> None:
    h = harness
    people = await _setup(h)
    oid = await _order(h)  # normal: 60 min, then 240 min (config.example.toml)
    first_ping = _count(h, VOLUNTEERS_1[0], "", oid)
    assert first_ping == 1  # the routing ping when it was posted

    h.advance(minutes=59)
    assert (await h.sweep())["escalation"] == 0
    h.advance(minutes=2)
    assert (await h.sweep())["escalation"] == 1
    again = Z(PING_AGAIN)
    for tid in (VOLUNTEERS_1[0], LEADER):
        got = await people[tid].expect(again)
        assert f"#{oid}" in text_of(got) and (f"o:claim:{oid}" in str(got["reply_markup"]))
        assert "13800000000" not in text_of(got)  # still no private details
    # Swept again (and again later, before the next step): nothing is repeated.
    assert (await h.sweep())["escalation"] == 0
    h.advance(minutes=100)
    assert (await h.sweep())["escalation"] == 0
    assert _count(h, VOLUNTEERS_1[0], again, oid) == 1
    assert _count(h, LEADER, again, oid) == 1
    assert await _events(h, oid) == ["escalation: ping_again"]

    # A volunteer of the second grid may not take it yet.
    other = people[VOLUNTEERS_2[0]]
    anywhere = other.chat()[-1]
    refused = await other.press_data(anywhere, f"o:claim:{oid}", force=True)
    assert refused is not None
    assert (
        Z(
            "This task belongs to another grid. If nobody there takes it in time, "
            "it will be opened to the whole community."
        )
        in refused["text"]
    )

    h.advance(minutes=80)  # 241 minutes after it was posted
    assert (await h.sweep())["escalation"] == 1
    post = await h.emu.wait_for(GROUP_2, lambda m: f"o:claim:{oid}" in str(m.get("reply_markup")))
    assert Z(COMMUNITY) in text_of(post) and "第一网格" in text_of(post)
    told = await people[STAFF].expect(Z(STAFF_TOLD))
    assert f"#{oid}" in text_of(told)
    assert (await h.sweep())["escalation"] == 0
    async with h.rt.db.read() as s:
        o = await s.get(Order, oid)
        assert o is not None and o.community_wide_at is not None
        assert o.escalate_at is None  # the end of the open ladder
    assert await _events(h, oid) == ["escalation: ping_again", "escalation: community"]

    # Now the second grid's volunteer takes it from their own group; both posts say so.
    ans = await other.press_data(post, f"o:claim:{oid}", chat_id=GROUP_2)
    assert ans is not None and f"#{oid}" in ans["text"]
    for group in (GROUP_1, GROUP_2):
        await h.emu.wait_for(
            group,
            lambda m: f"#{oid} " in text_of(m) and "陈静" in text_of(m) and not buttons(m),
        )
    async with h.rt.db.read() as s:
        o = await s.get(Order, oid)
        assert o is not None and o.status == "claimed"


async def test_each_step_fires_once_across_a_restart(harness: Harness) -> None:
    h = harness
    people = await _setup(h)
    oid = await _order(h, urgency="urgent")  # urgent: 10 min, then 30 min
    h.advance(minutes=11)
    # The bot was down when the step fell due: the JobQueue's first sweep after the restart
    # fires it (no test call to sweep here).
    await h.restart()
    await people[LEADER].expect(Z(PING_AGAIN), timeout=20)
    await h.settle()
    await h.restart()
    app = h.service.app
    # Generous: under load the first pass may be late (or, if the scheduler drops a late one,
    # the next comes 30 s later).
    await until(lambda: app.bot_data.get(SWEEPS_DONE, 0) >= 1, "the new JobQueue's first sweep", 75)
    assert (await h.sweep())["escalation"] == 0
    assert _count(h, LEADER, Z(PING_AGAIN), oid) == 1
    # Two sweeps at once fire the next step once.
    h.advance(minutes=20)
    fired = await asyncio.gather(h.sweep(), h.sweep())
    assert sum(f["escalation"] for f in fired) <= 1
    await people[STAFF].expect(Z(STAFF_TOLD))
    await h.settle()
    assert _count(h, STAFF, Z(STAFF_TOLD)[:10], oid) == 1
    assert await _events(h, oid) == ["escalation: ping_again", "escalation: community"]


async def test_a_claimed_task_that_does_not_move(harness: Harness) -> None:
    h = harness
    people = await _setup(h)
    # Groceries: a parcel pick-up (the "other" kind) has no 🛒 step.
    oid = await _order(h, category="groceries")
    runner = VOLUNTEERS_1[0]
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, oid, runner)
    h.rt.wake_outbox()
    await h.settle()
    # The open ladder stopped with the claim.
    h.advance(minutes=61)
    assert (await h.sweep())["escalation"] == 0
    h.advance(minutes=60)  # 2 h since the claim
    assert (await h.sweep())["escalation"] == 1
    reminder = await people[runner].expect(Z(REMIND_RUNNER))
    assert f"o:buy:{oid}" in str(reminder["reply_markup"])
    assert (await h.sweep())["escalation"] == 0
    h.advance(minutes=120)  # 4 h since the claim
    assert (await h.sweep())["escalation"] == 1
    told = await people[LEADER].expect(Z(TELL_LEADER))
    assert f"#{oid}" in text_of(told) and "王刚" in text_of(told)
    assert (await h.sweep())["escalation"] == 0

    # Moving it on starts the ladder again from the new status.
    await people[runner].press_data(reminder, f"o:buy:{oid}")
    await h.settle()
    async with h.rt.db.read() as s:
        o = await s.get(Order, oid)
        assert o is not None and o.status == "purchasing" and o.escalation_step == 0
    h.advance(minutes=119)
    assert (await h.sweep())["escalation"] == 0
    h.advance(minutes=2)
    assert (await h.sweep())["escalation"] == 1
    # (the first reminder became the card when its button was pressed)
    again = await people[runner].expect(Z(REMIND_RUNNER))
    assert f"o:go:{oid}" in str(again["reply_markup"])


async def test_a_released_task_starts_waiting_again(harness: Harness) -> None:
    h = harness
    people = await _setup(h)
    oid = await _order(h)
    h.advance(minutes=61)
    assert (await h.sweep())["escalation"] == 1
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, oid, VOLUNTEERS_1[0])
        await transitions.release(h.rt, s, oid, VOLUNTEERS_1[0], "家里有事")
    h.rt.wake_outbox()
    await h.settle()
    h.advance(minutes=59)
    assert (await h.sweep())["escalation"] == 0
    h.advance(minutes=2)
    assert (await h.sweep())["escalation"] == 1
    assert _count(h, LEADER, Z(PING_AGAIN), oid) == 2
    assert people[LEADER].chat()
