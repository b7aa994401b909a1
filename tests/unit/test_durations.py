"""The database's durations and medians (bot.services.reports.durations) give what Python's
statistics.median gives over the same rows, and the PostgreSQL form of the duration."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.runtime import Runtime
from bot.services.reports.durations import median, seconds_between
from models import Order
from tests.unit.test_orders import _order, _resident


async def test_median_of_durations_as_python_computes_it(rt: Runtime) -> None:
    await _resident(rt)
    ids = [await _order(rt) for _ in range(3)]
    rng = random.Random(13)
    base = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    where = (Order.id.in_(ids), Order.claimed_at.is_not(None))
    value = seconds_between(Order.created_at, Order.claimed_at)
    for count in (0, 1, 2, 3):  # none, odd, even
        seconds = [rng.uniform(0, 7200) for _ in range(count)]
        async with rt.db.session() as s:
            for i, oid in enumerate(ids):
                o = await s.get(Order, oid)
                assert o is not None
                o.created_at = base
                o.claimed_at = base + timedelta(seconds=seconds[i]) if i < count else None
        async with rt.db.read() as s:
            got = await median(s, value, *where)
            # The caller that counted the rows already (/stats, in its GROUP BY) gives the count.
            assert await median(s, value, *where, n=count) == got
        if count == 0:
            assert got is None
        else:
            expected = statistics.median(round(x, 6) for x in seconds)
            assert got is not None and abs(got - expected) < 0.01


def test_seconds_between_per_dialect() -> None:
    q = select(seconds_between(Order.created_at, Order.claimed_at))
    pg = str(q.compile(dialect=postgresql.dialect()))
    assert "EXTRACT(EPOCH FROM (orders.claimed_at - orders.created_at))" in pg
    lite = str(q.compile(dialect=sqlite.dialect()))
    assert "julianday(orders.claimed_at) - julianday(orders.created_at)" in lite


def test_the_claimed_and_delivered_counts_per_dialect() -> None:
    # /stats counts the orders claimed and delivered in its GROUP BY with a standard CASE
    # (the same text on PostgreSQL and SQLite), the counts its medians are given.
    claimed_delivered = and_(Order.claimed_at.is_not(None), Order.delivered_at.is_not(None))
    q = select(func.count(case((claimed_delivered, 1))))
    expected = (
        "count(CASE WHEN (orders.claimed_at IS NOT NULL AND orders.delivered_at IS NOT NULL) "
        "THEN %s END)"
    )
    assert expected % "%(param_1)s::INTEGER" in str(q.compile(dialect=postgresql.dialect()))
    assert expected % "?" in str(q.compile(dialect=sqlite.dialect()))
