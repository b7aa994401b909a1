"""A big CSV of buildings is checked in a worker thread: the bot keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.services import setup
from bot.services.setup import ImportResult, Row, parse_csv
from models import Building

HEADER = "community,community_code,grid,compound,building,building_code,units\n"


async def test_a_big_csv_import_is_checked_off_the_event_loop(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The property, not a stall bound a busy machine can break: the check runs in a thread
    that is not the event loop's, and the loop answers a call made from inside the check
    before the check returns (on the loop, the call could only run after it)."""
    # 3.5 MB (the command line's import has no size limit; the bot's is 1 MB); every line bad
    # (a code with a space), so nothing is written and what runs is the checking.
    lines = [f"阳光社区,yangguang,第一网格,阳光花园,{i}栋,bad code {i},4\n" for i in range(40_000)]
    text = HEADER + "".join(lines)
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    checks: list[tuple[int, bool]] = []  # (the check's thread, the loop answered meanwhile)

    def checked(text: str, result: ImportResult) -> list[Row]:
        answered = threading.Event()
        loop.call_soon_threadsafe(answered.set)  # run by the loop as soon as it is free
        try:
            return parse_csv(text, result)
        finally:
            # Not timed: a thread off the loop waits (boundedly) for its answer; on the loop,
            # the answer cannot come, and the thread check below has already told why.
            ok = threading.get_ident() != loop_thread and answered.wait(timeout=60)
            checks.append((threading.get_ident(), ok))

    monkeypatch.setattr(setup, "parse_csv", checked)
    async with rt.db.read() as s:
        before = await s.scalar(select(func.count()).select_from(Building))
    async with rt.db.session() as s:
        result = await setup.import_csv(rt, s, text, {"yangguang"})
    assert result.rows == 40_000 and len(result.errors) == 40_000
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Building)) == before
    assert len(checks) == 1, "the check did not run (or ran twice)"
    thread, answered = checks[0]
    assert thread != loop_thread, "the CSV was checked on the event loop's thread"
    assert answered, "the event loop did not answer while the CSV was checked"
