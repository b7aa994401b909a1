"""Two processes' stores on one database: each sees what the other wrote, and a write made on
an older read never goes over a newer one (PostgreSQL and SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from bot.chat_state import ChatStateStore
from bot.clock import OffsetClock
from bot.db import Database
from models import ChatState

USER = ("user", "", "1001")


@pytest.fixture
async def dbs(database_url: str) -> AsyncIterator[list[Database]]:
    """Two processes' engines on this test's database (the backend `--db` chose)."""
    both = [Database(database_url), Database(database_url)]
    yield both
    for db in both:
        await db.dispose()


async def _row(db: Database) -> object:
    async with db.read() as s:
        return await s.scalar(select(ChatState.data).where(ChatState.key == "1001"))


async def test_each_sees_the_others_write_and_a_stale_write_is_refused(
    dbs: list[Database],
) -> None:
    a, b = (ChatStateStore(db, OffsetClock()) for db in dbs)
    assert await a.save(*USER, {"step": 1})
    assert await b.changed([USER]) == {USER: {"step": 1}}
    assert await b.changed([USER]) == {}  # nothing new since
    assert await b.save(*USER, {"step": 2})
    # A still holds step 1: its write is refused, B's stays, and A is told on its next look.
    assert not await a.save(*USER, {"step": 9})
    assert await _row(dbs[0]) == {"step": 2}
    assert await a.changed([USER]) == {USER: {"step": 2}}
    assert await a.save(*USER, {"step": 3})
    assert await b.changed([USER]) == {USER: {"step": 3}}
    # An end written by one is seen by the other; a stale end of the other is refused.
    assert await a.save(*USER, None)
    assert not await b.save(*USER, {"step": 4})
    assert await _row(dbs[0]) is None
    assert await b.changed([USER]) == {USER: None}
    # A row deleted behind both (paotui resident forget): a changed save is refused.
    assert await b.save(*USER, {"step": 5})
    async with dbs[1].session() as s:
        await s.execute(delete(ChatState))
    assert not await b.save(*USER, {"step": 6})
    assert await _row(dbs[0]) is None
    assert await b.changed([USER]) == {USER: None}
    # An unchanged value costs no write, as before.
    assert await a.changed([USER]) == {}
