"""Count-then-act under concurrency, on SQLite and on a real PostgreSQL server
(tests/postgres.py): 20 attempts at once, each a real asyncio task in its own unit of work
through the service functions, and exactly the cap wins. The per-volunteer cap on running
tasks (claim), the per-household cap on orders under way (submit), and the claims the sweep
makes (a scheduled notice sent once, an escalation step fired once)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import pytest
from sqlalchemy import func, select

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import directory, escalation, notices, residents
from bot.services.orders import drafts, transitions
from models import Notice, NoticeDelivery, Order, OrderEvent, OrderStatus
from tests.factories import ANSWERS, STAFF, VOLUNTEERS_1

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]

ATTEMPTS = 20
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def any_rt(backend: str, request: pytest.FixtureRequest) -> Runtime:
    """The seeded runtime of tests/conftest.py (SQLite) or of tests/postgres.py."""
    rt: Runtime = request.getfixturevalue("rt" if backend == "sqlite" else "pg_rt")
    return rt


async def _race(attempt: Callable[[int], Awaitable[T]]) -> tuple[list[T], int]:
    """Run ``attempt(i)`` for i in 0..19 as concurrent tasks: (what won, how many refused).
    Anything but Refused fails the test."""
    results = await asyncio.gather(
        *(asyncio.create_task(_one(attempt, i)) for i in range(ATTEMPTS))
    )
    won = [r for r in results if not isinstance(r, Refused)]
    return won, len(results) - len(won)


async def _one(attempt: Callable[[int], Awaitable[T]], i: int) -> T | Refused:
    try:
        return await attempt(i)
    except Refused as refused:
        return refused


async def _resident(rt: Runtime, tid: int, room: str = "502") -> int:
    async with rt.db.session() as s:
        b = await directory.building_by_code(s, "xf2")
        assert b is not None
        r = await residents.register(
            s,
            rt.clock,
            telegram_id=tid,
            name=f"R{tid}",
            phone="138 0000 1001",
            building_id=b.id,
            unit="3",
            room=room,
        )
        return int(r.id)


async def _draft(rt: Runtime, tid: int) -> int:
    async with rt.db.session() as s:
        d = await drafts.start_draft(rt, s, tid)
        await drafts.update_draft(
            rt, s, d.id, tid, category="medicine", urgency="urgent", **ANSWERS["medicine"]
        )
        return d.id


async def _order(rt: Runtime, tid: int) -> int:
    draft_id = await _draft(rt, tid)
    async with rt.db.session() as s:
        return (await drafts.submit_draft(rt, s, draft_id, tid)).order.id


async def _count(rt: Runtime, model: type, *where: object) -> int:
    async with rt.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_twenty_claims_by_one_volunteer_win_exactly_the_cap(any_rt: Runtime) -> None:
    rt = any_rt
    cap = rt.settings.limits.max_active_tasks
    rt.settings.limits.max_open_orders = ATTEMPTS  # one household posts all the tasks
    await _resident(rt, 1001)
    orders = [await _order(rt, 1001) for _ in range(ATTEMPTS)]
    volunteer = VOLUNTEERS_1[0]

    async def claim(i: int) -> int:
        async with rt.db.session() as s:
            return (await transitions.claim(rt, s, orders[i], volunteer)).id

    won, refused = await _race(claim)
    assert (len(won), refused) == (cap, ATTEMPTS - cap)
    assert await _count(rt, Order, Order.status == OrderStatus.CLAIMED) == cap
    assert await _count(rt, OrderEvent, OrderEvent.to_status == OrderStatus.CLAIMED) == cap


async def test_twenty_volunteers_race_for_one_task_one_wins(any_rt: Runtime) -> None:
    rt = any_rt
    await _resident(rt, 1001)
    order_id = await _order(rt, 1001)
    volunteers = (VOLUNTEERS_1 * ATTEMPTS)[:ATTEMPTS]  # each of the grid's, several times

    async def claim(i: int) -> int:
        async with rt.db.session() as s:
            return (await transitions.claim(rt, s, order_id, volunteers[i])).id

    won, refused = await _race(claim)
    assert (won, refused) == ([order_id], ATTEMPTS - 1)
    assert await _count(rt, OrderEvent, OrderEvent.to_status == OrderStatus.CLAIMED) == 1


async def test_twenty_orders_sent_at_once_by_one_household_win_exactly_the_cap(
    any_rt: Runtime,
) -> None:
    rt = any_rt
    cap = rt.settings.limits.max_open_orders
    resident_id = await _resident(rt, 1001)
    # The forms are filled in first (each passes the cap: nothing is under way yet) ...
    forms = [await _draft(rt, 1001) for _ in range(ATTEMPTS)]

    async def submit(i: int) -> int:  # ... then all sent at once
        async with rt.db.session() as s:
            return (await drafts.submit_draft(rt, s, forms[i], 1001)).order.id

    won, refused = await _race(submit)
    assert (len(set(won)), refused) == (cap, ATTEMPTS - cap)
    assert await _count(rt, Order, Order.resident_id == resident_id) == cap


async def test_a_scheduled_notice_sent_by_twenty_sweeps_at_once_goes_out_once(
    any_rt: Runtime,
) -> None:
    rt = any_rt
    for n in range(5):
        await _resident(rt, 1001 + n, room=f"{n + 1}01")
    async with rt.db.session() as s:
        notice = await notices.create(
            rt, s, STAFF, "grid", "g1", "停水通知", send_at=datetime(2100, 1, 1, tzinfo=UTC)
        )
    rt.clock.advance(datetime(2100, 1, 1, tzinfo=UTC) - rt.clock.now() + timedelta(minutes=1))

    async def sweep(_: int) -> int:
        return await notices.send_due(rt)

    fired, _ = await _race(sweep)
    assert sum(fired) == 1
    async with rt.db.read() as s:
        chats = list(
            await s.scalars(
                select(NoticeDelivery.chat_id).where(NoticeDelivery.notice_id == notice.id)
            )
        )
        sent = await s.get(Notice, notice.id)
    assert len(chats) == len(set(chats)) > 0
    assert sent is not None and sent.recipients == 5  # the five households, each once


async def test_an_escalation_step_fired_by_twenty_sweeps_at_once_fires_once(
    any_rt: Runtime,
) -> None:
    rt = any_rt
    rt.settings.limits.max_open_orders = 5
    await _resident(rt, 1001)
    orders = [await _order(rt, 1001) for _ in range(5)]
    async with rt.db.read() as s:
        due = await s.scalar(select(func.max(Order.escalate_at)).where(Order.id.in_(orders)))
    assert due is not None
    rt.clock.advance(due - rt.clock.now() + timedelta(seconds=1))

    async def sweep(_: int) -> int:
        return await escalation.run_due(rt)

    fired, _ = await _race(sweep)
    assert sum(fired) == len(orders)
    async with rt.db.read() as s:
        steps = (
            await s.execute(select(Order.id, Order.escalation_step).where(Order.id.in_(orders)))
        ).all()
    assert {step for _, step in steps} == {1}
    assert await _count(rt, OrderEvent, OrderEvent.note.like("escalation:%")) == len(orders)
