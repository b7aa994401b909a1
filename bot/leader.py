"""Leadership among the instances on one database: the one instance that polls Telegram, runs
the outbox dispatcher and the periodic sweep. On PostgreSQL it is the holder of a session-level
advisory lock (``pg_try_advisory_lock``) on a connection of its own, kept for as long as it
leads: a process that dies closes that connection, and the lock is free at once for the next
``check`` of another instance. On SQLite (a single process) this instance always leads."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.db import is_sqlite

logger = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory lock's key for a leadership name (a bot: one leader per bot)."""
    return zlib.crc32(f"paotui:leader:{name}".encode())


class Leadership:
    """Whether this instance leads; ``check`` takes the lock when it is free and confirms it
    is still held (its connection alive) when leading."""

    def __init__(self, url: str, name: str) -> None:
        self.always = is_sqlite(url)
        self.key = lock_key(name)
        self.leading = self.always
        # NullPool: closing the connection really closes it (and frees the lock).
        self._engine: AsyncEngine | None = (
            None if self.always else create_async_engine(url, poolclass=NullPool)
        )
        self._conn: AsyncConnection | None = None
        # The leader's duties, stopped before the lock is given up (a bot handed to another
        # instance, bot.leader_share): the sends under way finish first, so two dispatchers
        # never send for one bot at once.
        self.before_release: Callable[[], Awaitable[None]] | None = None

    async def check(self) -> bool:
        """Lead if possible; True while this instance leads."""
        if self.always:
            return True
        try:
            if self._conn is None:
                assert self._engine is not None
                self._conn = await self._engine.connect()
                got = (
                    await self._conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
                    )
                ).scalar()
                await self._conn.commit()  # the lock is the session's, not the transaction's
                if not got:
                    await self._drop()
                    self.leading = False
                    return False
                logger.info("this instance leads (advisory lock %s)", self.key)
            else:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
            self.leading = True
        except Exception:
            if self.leading:
                logger.warning("lost the leader's lock connection; stepping down", exc_info=True)
            await self._drop()
            self.leading = False
        return self.leading

    async def release(self) -> None:
        """Stop leading: close the lock's connection (the lock goes with it)."""
        if self.always:
            return
        if self.leading and self.before_release is not None:
            await self.before_release()
        self.leading = False
        await self._drop()

    async def close(self) -> None:
        await self.release()
        if self._engine is not None:
            await self._engine.dispose()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection: nothing left to close
                await conn.close()
