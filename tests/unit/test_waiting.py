"""催一催 on a real database, without Telegram: two presses at once count once (the
conditional UPDATE on `urged_at` decides), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import OffsetClock
from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import waiting
from models import Order, OrderEvent, OutboxMessage
from tests.factories import STAFF
from tests.unit.test_relay import AUNT, _order


async def _press(rt: Runtime, order_id: int) -> waiting.Urged | Refused:
    try:
        async with rt.db.session() as s:
            return await waiting.urge(rt, s, order_id, AUNT)
    except Refused as e:
        return e


async def test_two_presses_at_once_count_once_and_the_window_reopens(rt: Runtime) -> None:
    oid = await _order(rt, claimed=False)
    results = await asyncio.gather(*(_press(rt, oid) for _ in range(3)))
    urged = [r for r in results if isinstance(r, waiting.Urged)]
    refused = [r for r in results if isinstance(r, Refused)]
    assert len(urged) == 1 and urged[0].count == 1 and urged[0].staff >= 1
    assert {r.message for r in refused} == {waiting.TOO_SOON}
    assert refused[0].params["minutes"] == rt.settings.escalation.urge_every_minutes

    assert isinstance(rt.clock, OffsetClock)
    rt.clock.advance(timedelta(minutes=rt.settings.escalation.urge_every_minutes))
    again = await _press(rt, oid)
    assert isinstance(again, waiting.Urged) and again.count == 2
    async with rt.db.read() as s:
        o = await s.get(Order, oid)
        assert o is not None and o.urge_count == 2
        events = await s.scalar(
            select(func.count()).where(OrderEvent.order_id == oid, OrderEvent.note == "urged")
        )
        told = await s.scalar(
            select(func.count()).where(
                OutboxMessage.chat_id == STAFF, OutboxMessage.text.contains(f"#{oid}")
            )
        )
    assert events == 2 and told == 2


async def test_not_someone_elses_order(rt: Runtime) -> None:
    oid = await _order(rt, claimed=False)
    async with rt.db.session() as s:
        try:
            await waiting.urge(rt, s, oid, 1002)
        except Refused as e:
            assert e.message == "This is not your order."
        else:
            raise AssertionError("someone else urged her order")
