"""bot.inbox.claim on PostgreSQL: the rules by which several instances share the inbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot import inbox
from bot.runtime import Runtime

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]

LEASE = timedelta(seconds=30)


async def _store(rt: Runtime, *updates: tuple[int, str]) -> None:
    async with rt.db.session() as s:
        await inbox.record_new(
            s, rt.clock, [(uid, "{}") for uid, _ in updates], {uid: k for uid, k in updates}
        )


async def _claim(rt: Runtime, me: str, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or datetime.now(UTC)
    async with rt.db.session() as s:
        return [uid for uid, _ in await inbox.claim(s, now, me, now + LEASE, limit=limit)]


async def _done(rt: Runtime, *ids: int) -> None:
    async with rt.db.session() as s:
        await inbox.mark_done(s, rt.clock, ids)


async def test_an_update_is_claimed_once_and_a_users_later_one_waits_for_the_earlier(
    pg_rt: Runtime,
) -> None:
    await _store(pg_rt, (1, "u1"), (2, "u2"), (3, "u1"))
    assert await _claim(pg_rt, "a", limit=1) == [1]
    # b may not take u1's update 3 while a holds update 1; u2's is free.
    assert await _claim(pg_rt, "b") == [2]
    assert await _claim(pg_rt, "b") == []
    # a itself may: it handles them in order.
    assert await _claim(pg_rt, "a") == [3]
    await _store(pg_rt, (4, "u1"))
    await _done(pg_rt, 1, 3)
    assert await _claim(pg_rt, "b") == [4]


async def test_a_dead_instances_updates_are_taken_over_when_its_lease_runs_out(
    pg_rt: Runtime,
) -> None:
    await _store(pg_rt, (1, "u1"), (2, "u1"))
    assert await _claim(pg_rt, "dead") == [1, 2]
    assert await _claim(pg_rt, "b") == []
    later = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    assert await _claim(pg_rt, "b", now=later) == [1, 2]


async def test_a_failed_update_is_released_for_anyone(pg_rt: Runtime) -> None:
    await _store(pg_rt, (1, "u1"))
    assert await _claim(pg_rt, "a") == [1]
    async with pg_rt.db.session() as s:
        await inbox.mark_processed(s, pg_rt.clock, 1, "boom")
    assert await _claim(pg_rt, "b") == [1]


async def test_concurrent_claims_share_the_updates_without_overlap(pg_rt: Runtime) -> None:
    await _store(pg_rt, *[(i, f"u{i % 40}") for i in range(1, 401)])
    got = await asyncio.gather(*[_claim(pg_rt, f"i{n}", limit=50) for n in range(6)])
    claimed = [uid for ids in got for uid in ids]
    assert len(claimed) == len(set(claimed))
    # No user's updates are held by two instances.
    owner: dict[int, int] = {}
    for n, ids in enumerate(got):
        for uid in ids:
            assert owner.setdefault(uid % 40, n) == n


async def test_a_stopping_instance_releases_what_it_did_not_finish(pg_rt: Runtime) -> None:
    await _store(pg_rt, (1, "u1"), (2, "u2"))
    assert await _claim(pg_rt, "a") == [1, 2]
    await _done(pg_rt, 1)
    async with pg_rt.db.session() as s:
        await inbox.release(s, "a")
    assert await _claim(pg_rt, "b") == [2]
