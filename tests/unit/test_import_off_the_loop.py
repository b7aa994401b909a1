"""A big CSV of buildings is checked in a worker thread: the bot keeps serving meanwhile."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from bench.stall import LongestStall
from bot.runtime import Runtime
from bot.services import setup
from models import Building

HEADER = "community,community_code,grid,compound,building,building_code,units\n"


async def test_a_big_csv_import_is_checked_off_the_event_loop(rt: Runtime) -> None:
    # 3.5 MB (the command line's import has no size limit; the bot's is 1 MB); every line bad
    # (a code with a space), so nothing is written and what is measured is the checking.
    lines = [f"阳光社区,yangguang,第一网格,阳光花园,{i}栋,bad code {i},4\n" for i in range(40_000)]
    text = HEADER + "".join(lines)
    async with rt.db.read() as s:
        before = await s.scalar(select(func.count()).select_from(Building))
    async with LongestStall() as meter:
        started = time.monotonic()
        async with rt.db.session() as s:
            result = await setup.import_csv(rt, s, text, {"yangguang"})
        took = time.monotonic() - started
    stall = meter.seconds
    assert result.rows == 40_000 and len(result.errors) == 40_000
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Building)) == before
    # Checked on the loop, the longest stall is the whole check (about 2 s on a busy 2-core
    # machine); in a thread, only a garbage collection now and then holds the loop. Relative,
    # so a busier machine (a slower check, longer collections) does not fail it.
    assert stall < max(0.5, took / 3), f"loop stalled {stall:.2f} s of the import's {took:.2f} s"
