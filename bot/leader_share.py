"""How the leaderships of a district's bots are shared out among the instances. Each bot has
its own leader (bot.leader: the one instance that polls it, dispatches its outbox rows, sends
its Telegram traffic); left alone, the first instance to start would take every bot's lock and
do all the sending while the others only process updates. Here each instance counts the
instances alive (each holds a shared advisory lock on a connection of its own while it runs;
``pg_locks`` counts the holders) and leads at most its share, ceil(bots / instances): it takes
a free bot only below its share, and gives one up (releasing its lock, for another instance to
take at its next check) while above it. So a second instance started after the first takes
half of the bots within a few leadership checks, and a dead instance's bots are taken over by
the others as their shares grow. SQLite (one process): nothing to share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import zlib
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.leader import Leadership

logger = logging.getLogger(__name__)

# The instances' shared lock: a key below 2**31, so pg_locks shows it as classid 0, objid KEY.
INSTANCES_KEY = zlib.crc32(b"paotui:instances") & 0x7FFF_FFFF


class LeaderShare:
    """This instance's part of the bots' leaderships: ``share`` wraps each bot's
    ``Leadership.check``; ``close`` stops counting this instance."""

    def __init__(self, url: str, leaderships: Sequence[Leadership]) -> None:
        self.leaderships = list(leaderships)
        self.bots = len(self.leaderships)
        self._taking = 0  # checks under way that may take a bot's lock
        self._lock = asyncio.Lock()
        self._engine: AsyncEngine = create_async_engine(url, poolclass=NullPool)
        self._conn: AsyncConnection | None = None

    def share(self) -> None:
        for leadership in self.leaderships:
            if not leadership.always:
                leadership.check = self._checker(leadership)  # type: ignore[method-assign,assignment]

    def leads(self) -> int:
        """How many of the bots this instance leads."""
        return sum(leadership.leading for leadership in self.leaderships)

    async def instances(self) -> int:
        """The instances alive (this one included), holding the shared lock."""
        async with self._lock:  # one connection, the bots' checks one at a time
            return await self._count()

    async def _count(self) -> int:
        if self._conn is None:
            self._conn = await self._engine.connect()
            await self._conn.execute(
                text("SELECT pg_advisory_lock_shared(:k)"), {"k": INSTANCES_KEY}
            )
            await self._conn.commit()
        count: int = (
            await self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0"
                    " AND objid = :k AND mode = 'ShareLock' AND granted"
                ),
                {"k": INSTANCES_KEY},
            )
        ).scalar_one()
        await self._conn.commit()
        return max(1, int(count))

    def _checker(self, leadership: Leadership) -> Callable[[], Awaitable[bool]]:
        check = leadership.check

        async def checked() -> bool:
            try:
                share = math.ceil(self.bots / await self.instances())
            except Exception:
                logger.warning("counting the instances failed", exc_info=True)
                await self._drop()
                share = self.bots  # as if alone: every bot keeps a leader
            if leadership.leading:
                if self.leads() > share:  # more than this instance's part: give one up
                    await leadership.release()
                    logger.info("gave up a bot's leadership: %d bots, share %d", self.bots, share)
                    return False
                return await check()
            if self.leads() + self._taking >= share:
                return False
            self._taking += 1  # before the await: the other bots' checks count it
            try:
                return await check()
            finally:
                self._taking -= 1

        return checked

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        await self._drop()
        await self._engine.dispose()
