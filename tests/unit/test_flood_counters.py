"""The flood guard's shared counts: the same rule as the in-memory guard, and exact under
concurrent updates of one person from several instances (PostgreSQL, and SQLite)."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.flood_counters import FloodCounters, step
from handlers.flood_guard import FloodGuard
from models import FloodCounter


def test_step_is_the_in_memory_rule() -> None:
    rnd = random.Random(14)
    guard = FloodGuard(per_minute=4)
    hits: list[float] = []
    warned: float | None = None
    now = 0.0
    for _ in range(2_000):
        now += rnd.choice([0.1, 0.5, 2.0, 7.0, 30.0])
        hits, warned, allowed, warn = step(hits, warned, now, 4, FloodGuard.WINDOW)
        assert guard.allow(5, now) == (allowed, warn)


@pytest.fixture
def url(database_url: str) -> str:
    """This test's database (the backend `--db` chose)."""
    return database_url


async def test_concurrent_updates_of_one_person_are_counted_exactly(url: str) -> None:
    # Three instances: each its own engine and counters on the one database.
    dbs = [Database(url) for _ in range(3)]
    try:
        counters = [FloodCounters(db) for db in dbs]
        now = 1_000_000.0
        results = await asyncio.gather(
            *(counters[i % 3].hit(7, now + i * 0.001, per_minute=5) for i in range(20))
        )
        assert sum(allowed for allowed, _ in results) == 5
        assert sum(warn for _, warn in results) == 1
        # Another person is counted apart; a minute later the first may write again.
        assert await counters[0].hit(8, now + 1, per_minute=5) == (True, False)
        assert await counters[1].hit(7, now + 61, per_minute=5) == (True, False)
        # Quiet for a window: their rows go at the next prune.
        assert await counters[2].hit(9, now + 200, per_minute=5) == (True, False)
        assert await counters[2].hit(9, now + 270, per_minute=5) == (True, False)
        async with dbs[0].read() as s:
            left = set(await s.scalars(select(FloodCounter.telegram_id)))
        assert left == {9}
    finally:
        for db in dbs:
            await db.dispose()
