"""`transition()`, the one way an order's status changes: a move it refuses writes nothing
and says why; of two presses that both saw the task open, the second loses."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services.orders import transitions, views
from models import Actor, Order, OrderEvent, OrderStatus, Volunteer
from tests.factories import VOLUNTEERS_1
from tests.unit.test_orders import _order, _resident

S = OrderStatus


async def _row(rt: Runtime, order_id: int) -> tuple[object, ...]:
    async with rt.db.read() as s:
        o = await s.get(Order, order_id)
        assert o is not None
        events = await s.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order_id)
        )
        return (o.status, o.volunteer_id, o.updated_at, o.escalate_at, o.reason, events)


async def _volunteer_id(rt: Runtime, telegram_id: int) -> int:
    async with rt.db.read() as s:
        vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == telegram_id))
    assert vid is not None
    return vid


async def test_a_refused_move_writes_nothing_and_says_why(rt: Runtime) -> None:
    await _resident(rt)
    order_id = await _order(rt)
    before = await _row(rt, order_id)
    async with rt.db.session() as s:
        o = await views.order_or_refuse(s, order_id)
        # Not a transition of the state machine (open -> delivered).
        with pytest.raises(Refused) as e:
            await transitions.transition(rt, s, o, S.DELIVERED, Actor.VOLUNTEER, VOLUNTEERS_1[0])
        assert (e.value.message, e.value.params) == (
            "Order #{id} has moved on; this button is out of date.",
            {"id": order_id},
        )
        # A move that needs a reason, given none; and one the actor may not make.
        with pytest.raises(Refused):
            await transitions.transition(rt, s, o, S.UNFULFILLABLE, Actor.STAFF, None)
        with pytest.raises(Refused):
            await transitions.transition(rt, s, o, S.CONFIRMED, Actor.RESIDENT, 1001)
    assert await _row(rt, order_id) == before
    # The message for the state the order is in now, when the caller has one for it.
    async with rt.db.session() as s:
        o = await views.order_or_refuse(s, order_id)
        at_the_door = Refused("at the door")
        with pytest.raises(Refused) as e:
            await transitions.transition(
                rt, s, o, S.DELIVERED, Actor.VOLUNTEER, None, refusals={S.OPEN: at_the_door}
            )
        assert e.value is at_the_door
    assert await _row(rt, order_id) == before


async def test_of_two_who_saw_it_open_the_second_loses(rt: Runtime) -> None:
    await _resident(rt)
    order_id = await _order(rt)
    first, second = VOLUNTEERS_1[0], VOLUNTEERS_1[1]
    # Both presses load the task while it is open ...
    async with rt.db.read() as s:
        seen_by_first = await views.order_or_refuse(s, order_id)
    async with rt.db.read() as s:
        seen_by_second = await views.order_or_refuse(s, order_id)
    assert seen_by_first.status == seen_by_second.status == S.OPEN
    # ... the first moves it ...
    winner = await _volunteer_id(rt, first)
    async with rt.db.session() as s:
        moved = await transitions.transition(
            rt, s, seen_by_first, S.CLAIMED, Actor.VOLUNTEER, first, volunteer_id=winner
        )
        assert moved.status == S.CLAIMED and moved.volunteer_id == winner
    after_first = await _row(rt, order_id)
    # ... so the second's conditional UPDATE finds no open row: refused, nothing written.
    async with rt.db.session() as s:
        with pytest.raises(Refused) as e:
            await transitions.transition(
                rt,
                s,
                seen_by_second,
                S.CLAIMED,
                Actor.VOLUNTEER,
                second,
                volunteer_id=await _volunteer_id(rt, second),
            )
    assert e.value.message == "Already taken by {name}."
    assert await _row(rt, order_id) == after_first
    async with rt.db.read() as s:
        claims = await s.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.to_status == S.CLAIMED)
        )
    assert claims == 1


async def test_a_runner_replaced_meanwhile_cannot_move_the_new_runners_task(rt: Runtime) -> None:
    """The UPDATE also holds the runner it saw: a card loaded before the task was given back
    and taken by someone else (same status again) moves nothing."""
    await _resident(rt)
    order_id = await _order(rt)
    first, second = VOLUNTEERS_1[0], VOLUNTEERS_1[1]
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, first)
    async with rt.db.read() as s:
        stale_card = await views.order_or_refuse(s, order_id)
    async with rt.db.session() as s:
        await transitions.release(rt, s, order_id, first, "busy")
    async with rt.db.session() as s:
        await transitions.claim(rt, s, order_id, second)
    before = await _row(rt, order_id)
    async with rt.db.session() as s:
        with pytest.raises(Refused) as e:
            await transitions.transition(rt, s, stale_card, S.PURCHASING, Actor.VOLUNTEER, first)
    assert e.value.message == "Already taken by {name}."
    assert await _row(rt, order_id) == before
