"""Repeating errands under concurrency and over time (issue 16, section 2), on SQLite and on a
real PostgreSQL server: twenty sweeps at once make one order per occurrence; a care-list
household's occurrences are priority; three occurrences in a row cancelled pause the repeat
and tell the staff; forgetting a household removes its repeats."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.services import care_flags, repeat_sweep, repeats
from bot.services.orders import resident_moves
from models import CareFlag, Order, Repeat, Resident, StaffAlert
from tests.factories import STAFF
from tests.unit.test_caps_concurrent import ATTEMPTS, _order, _resident

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]

TID = 1001


@pytest.fixture(params=["sqlite", "postgres"])
def any_rt(request: pytest.FixtureRequest) -> Runtime:
    rt: Runtime = request.getfixturevalue("rt" if request.param == "sqlite" else "pg_rt")
    return rt


async def _repeat(rt: Runtime) -> int:
    """周阿姨's finished (cancelled) order, repeated every day at 07:00."""
    await _resident(rt, TID)
    order_id = await _order(rt, TID)
    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, order_id, TID)
    async with rt.db.session() as s:
        made = await repeats.create(rt, s, order_id, TID, "d", "07:00", 0)
    return made.repeat.id


async def _to_due(rt: Runtime, repeat_id: int) -> None:
    async with rt.db.read() as s:
        r = await s.get(Repeat, repeat_id)
        assert r is not None and r.next_due_at is not None
        due = r.next_due_at
    rt.clock.advance(due - rt.clock.now() + timedelta(minutes=1))  # type: ignore[attr-defined]


async def _occurrences(rt: Runtime) -> list[Order]:
    async with rt.db.read() as s:
        rows = await s.scalars(select(Order).where(Order.repeat_id.is_not(None)).order_by(Order.id))
        return list(rows)


async def test_twenty_sweeps_at_once_make_one_order_per_occurrence(any_rt: Runtime) -> None:
    rt = any_rt
    repeat_id = await _repeat(rt)
    for day in (1, 2):
        await _to_due(rt, repeat_id)
        fired = await asyncio.gather(
            *(asyncio.create_task(repeat_sweep.fire_due(rt)) for _ in range(ATTEMPTS))
        )
        assert sum(fired) == 1
        assert len(await _occurrences(rt)) == day


async def test_care_list_household_repeats_are_priority(any_rt: Runtime) -> None:
    rt = any_rt
    repeat_id = await _repeat(rt)
    async with rt.db.session() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == TID))
        assert rid is not None
        await care_flags.add(s, rid, CareFlag.ELDERLY_ALONE, STAFF, rt.clock.now())
    await _to_due(rt, repeat_id)
    assert await repeat_sweep.fire_due(rt) == 1
    (made,) = await _occurrences(rt)
    assert made.priority


async def test_three_failed_occurrences_pause_it_and_tell_staff(any_rt: Runtime) -> None:
    rt = any_rt
    repeat_id = await _repeat(rt)
    for _ in range(3):
        await _to_due(rt, repeat_id)
        assert await repeat_sweep.fire_due(rt) == 1
        last = (await _occurrences(rt))[-1]
        async with rt.db.session() as s:
            await resident_moves.cancel_by_resident(rt, s, last.id, TID)
    await _to_due(rt, repeat_id)
    assert await repeat_sweep.fire_due(rt) == 0
    assert len(await _occurrences(rt)) == 3
    async with rt.db.read() as s:
        r = await s.get(Repeat, repeat_id)
        assert r is not None and r.status == "paused" and r.consecutive_failures == 3
        alerts = await s.scalar(
            select(func.count()).select_from(StaffAlert).where(StaffAlert.kind == "repeat_paused")
        )
    assert alerts == 1
    # Resumed by the household: it fires again, and one success resets the count.
    async with rt.db.session() as s:
        changed = await repeats.change(rt, s, repeat_id, TID, "resume", "paused")
        assert changed.acted and changed.repeat.status == "active"
    await _to_due(rt, repeat_id)
    assert await repeat_sweep.fire_due(rt) == 1


async def test_forgetting_the_household_removes_its_repeats(any_rt: Runtime) -> None:
    from bot.services import privacy

    rt = any_rt
    repeat_id = await _repeat(rt)
    async with rt.db.session() as s:
        await privacy.forget(rt, s, "138 0000 1001")
    async with rt.db.read() as s:
        assert await s.get(Repeat, repeat_id) is None
    rt.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    assert await repeat_sweep.fire_due(rt) == 0
    assert await _occurrences(rt) == []


async def test_a_window_of_today_already_over_becomes_any_time(any_rt: Runtime) -> None:
    rt = any_rt
    await _resident(rt, TID)
    order_id = await _order(rt, TID)
    async with rt.db.session() as s:
        await resident_moves.cancel_by_resident(rt, s, order_id, TID)
        o = await s.get(Order, order_id)
        assert o is not None
        o.urgency, o.time_window = "today", "morning"  # ordered for this morning
    async with rt.db.session() as s:
        made = await repeats.create(rt, s, order_id, TID, "d", "19:00", 0)
    await _to_due(rt, made.repeat.id)
    assert await repeat_sweep.fire_due(rt) == 1
    (occurrence,) = await _occurrences(rt)
    assert (occurrence.urgency, occurrence.time_window) == ("today", "any")
