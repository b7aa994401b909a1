"""The order services on a real SQLite file, without Telegram."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import directory, residents
from bot.services.orders import drafts, resident_moves, transitions
from models import Order, OrderDraft, OrderEvent, OutboxMessage, Volunteer, VolunteerStatus
from tests.factories import ANSWERS, GROUP_1, VOLUNTEERS_1, VOLUNTEERS_2


async def _resident(rt: Runtime, tid: int = 1001) -> None:
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf2")
        assert b is not None
        await residents.register(
            s,
            rt.clock,
            telegram_id=tid,
            name="周阿姨",
            phone="138 0000 1001",
            building_id=b.id,
            unit="3",
            room="502",
        )


async def _order(rt: Runtime, tid: int = 1001) -> int:
    async with rt.db.session() as s:
        d = await drafts.start_draft(rt, s, tid)
        await drafts.update_draft(
            rt, s, d.id, tid, category="medicine", urgency="urgent", **ANSWERS["medicine"]
        )
        result = await drafts.submit_draft(rt, s, d.id, tid)
    assert result.created
    return result.order.id


async def _count(rt: Runtime, model: type, *where: object) -> int:
    async with rt.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


async def test_register_validates_and_normalises(rt: Runtime) -> None:
    await _resident(rt)
    async with rt.db.read() as s:
        me = await residents.get(s, 1001)
    assert me is not None and me.phone == "13800001001"
    assert me.address == "幸福社区 幸福小区 2栋 3-502"
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf2")
        assert b is not None
        for unit, room, phone in (
            ("9", "502", "138"),
            ("1", "楼上", "13800001001"),
            ("一单元二", "502", "13800001001"),
        ):
            with pytest.raises(Refused):
                await residents.register(
                    s,
                    rt.clock,
                    telegram_id=1,
                    name="a",
                    phone=phone,
                    building_id=b.id,
                    unit=unit,
                    room=room,
                )


async def test_submit_routes_to_the_grid_group_once(rt: Runtime) -> None:
    await _resident(rt)
    order_id = await _order(rt)
    async with rt.db.session() as s:
        o = await s.get(Order, order_id)
        assert o is not None and o.grid_id == 1 and o.status == "open"
        post = await s.get(OutboxMessage, o.group_post_id)
        assert post is not None and post.chat_id == GROUP_1 and post.is_group
        assert "502" not in post.text and "13800001001" not in post.text
        # A second submit of the same draft returns the same order and posts nothing new.
        draft_id = (await s.scalars(select(OrderDraft.id))).one()
        again = await drafts.submit_draft(rt, s, draft_id, 1001)
    assert not again.created and again.order.id == order_id
    assert await _count(rt, Order) == 1
    assert await _count(rt, OutboxMessage, OutboxMessage.chat_id == GROUP_1) == 1


async def test_drafts_are_checked(rt: Runtime) -> None:
    await _resident(rt)
    async with rt.db.session() as s:
        d = await drafts.start_draft(rt, s, 1001, category="groceries")
        with pytest.raises(Refused):
            await drafts.update_draft(rt, s, d.id, 1001, description="x" * 5000)
        with pytest.raises(Refused):
            await drafts.update_draft(rt, s, d.id, 1001, description="   ")
        with pytest.raises(Refused):  # someone else's draft
            await drafts.update_draft(rt, s, d.id, 4242, description="hello")
        with pytest.raises(Refused):  # incomplete
            await drafts.submit_draft(rt, s, d.id, 1001)
    async with rt.db.session() as s:
        with pytest.raises(Refused):  # not registered
            await drafts.start_draft(rt, s, 4242)


async def test_concurrent_claims_one_winner(rt: Runtime) -> None:
    await _resident(rt)
    order_id = await _order(rt)
    async with rt.db.session() as s:
        for tid in range(3001, 3021):
            s.add(
                Volunteer(
                    telegram_id=tid,
                    name=f"v{tid}",
                    grid_id=1,
                    status=VolunteerStatus.APPROVED,
                    created_at=rt.clock.now(),
                )
            )

    async def claim(tid: int) -> str:
        try:
            async with rt.db.session() as s:  # one unit of work per press, as in a handler
                await transitions.claim(rt, s, order_id, tid)
            return "won"
        except Refused as e:
            return e.message

    results = await asyncio.gather(*(claim(t) for t in range(3001, 3021)))
    assert results.count("won") == 1
    assert all(r == "Already taken by {name}." for r in results if r != "won")
    assert await _count(rt, OrderEvent, OrderEvent.to_status == "claimed") == 1


async def test_running_an_order_and_who_may_do_what(rt: Runtime) -> None:
    await _resident(rt)
    order_id = await _order(rt)
    runner, other = VOLUNTEERS_1[0], VOLUNTEERS_1[1]
    async with rt.db.session() as s:
        with pytest.raises(Refused):
            await transitions.claim(rt, s, order_id, VOLUNTEERS_2[0])  # another grid
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, runner)
    async with rt.db.session() as s:
        with pytest.raises(Refused):
            await transitions.advance(rt, s, order_id, other, "buy")  # not the runner
        with pytest.raises(Refused):
            await transitions.deliver(rt, s, order_id, runner, "door.jpg", 0)  # skips steps
        with pytest.raises(Refused):
            await resident_moves.confirm_receipt(rt, s, order_id, 1001)  # not delivered yet
    for verb in ("buy", "go"):
        async with rt.db.session() as s:
            await transitions.advance(rt, s, order_id, runner, verb)
    async with rt.db.session() as s:
        v = await transitions.deliver(rt, s, order_id, runner, "door.jpg", 0)
    assert v.status == "delivered"
    async with rt.db.session() as s:
        with pytest.raises(Refused):  # at the door: too late to cancel
            await resident_moves.cancel_by_resident(rt, s, order_id, 1001)
        await resident_moves.confirm_receipt(rt, s, order_id, 1001)
    async with rt.db.session() as s:
        with pytest.raises(Refused):
            await resident_moves.confirm_receipt(rt, s, order_id, 1001)
    async with rt.db.read() as s:
        events = (await s.scalars(select(OrderEvent).order_by(OrderEvent.id))).all()
    assert [e.to_status for e in events] == [
        "open",
        "claimed",
        "purchasing",
        "delivering",
        "delivered",
        "confirmed",
    ]
    assert [e.actor for e in events] == [
        "resident",
        "volunteer",
        "volunteer",
        "volunteer",
        "volunteer",
        "resident",
    ]


async def test_release_reposts_and_cancel_tells_the_runner(rt: Runtime) -> None:
    await _resident(rt)
    order_id = await _order(rt)
    runner = VOLUNTEERS_1[0]
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, runner)
        v = await transitions.release(rt, s, order_id, runner, "no time")
    assert v.status == "open" and v.volunteer_telegram_id is None
    assert (
        await _count(
            rt, OutboxMessage, OutboxMessage.chat_id == GROUP_1, OutboxMessage.kind == "send"
        )
        == 2
    )
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, VOLUNTEERS_1[1])
        await resident_moves.cancel_by_resident(rt, s, order_id, 1001)
    # The card, its edit (no buttons once cancelled), and the news.
    assert await _count(rt, OutboxMessage, OutboxMessage.chat_id == VOLUNTEERS_1[1]) == 3
    async with rt.db.read() as s:
        release = await s.scalar(
            select(OrderEvent).where(
                OrderEvent.from_status == "claimed", OrderEvent.to_status == "open"
            )
        )
    assert release is not None and release.note == "no time"
