"""Waking the one dispatcher across instances: on PostgreSQL with several instances only the
leader dispatches the outbox (bot.leader), so a row another instance wrote (an order's notice,
a direct reply it handed to the outbox) would wait up to ``poll_seconds`` for the leader's next
look. ``Wakeup.wake`` (the runtime's ``wake_outbox``, called after a commit that wrote outbox
rows) wakes this process's dispatcher and, when this instance does not lead, sends
``NOTIFY paotui_outbox``; every instance ``LISTEN``s on a connection of its own (a NullPool
engine, like the leader's lock) and wakes its dispatcher on a notification, so the leader's
sends within a round trip. Notifications are coalesced: a burst of wakes while one NOTIFY is
under way sends one more, not one each. On SQLite (one process) it only wakes the local
dispatcher. A lost connection is opened again at the next wake or keep-alive; meanwhile the
dispatcher still looks every ``poll_seconds``, so nothing is lost, only later."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.db import is_sqlite

logger = logging.getLogger(__name__)

CHANNEL = "paotui_outbox"


class Wakeup:
    """The runtime's ``wake_outbox`` for one instance. ``local`` wakes this process's
    dispatcher; ``leads`` says whether this instance leads (then nobody else need hear)."""

    keep_alive_seconds = 5.0

    def __init__(self, url: str, local: Callable[[], None], leads: Callable[[], bool]) -> None:
        self.local = local
        self.leads = leads
        self.shared = not is_sqlite(url)
        self._engine: AsyncEngine | None = (
            create_async_engine(url, poolclass=NullPool) if self.shared else None
        )
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._due = False  # a NOTIFY is owed
        self._notifier: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        # Set when close begins: a wake from then on (a job or a late update still committing
        # while the instance stops) is this process's only, and opens no connection.
        self._closing = False
        self.notified = 0  # NOTIFYs sent (tests, bench)
        self.heard = 0  # notifications received

    def wake(self) -> None:
        """Wake the dispatcher: this process's, and the leader's if that is another."""
        self.local()
        if not self.shared or self.leads() or self._keeper is None or self._closing:
            return
        self._due = True
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._notify(), name="outbox-notify")

    async def start(self) -> None:
        """Listen (PostgreSQL): open the connection now and keep it open."""
        if not self.shared:
            return
        self._closing = False
        with contextlib.suppress(Exception):  # tried again by the keep-alive
            async with self._lock:
                await self._connected()
        self._keeper = asyncio.create_task(self._keep(), name="outbox-listen")

    async def close(self) -> None:
        # No new NOTIFY from here on; the one under way is cancelled. Then the connection is
        # closed under the lock, never while a statement uses it.
        self._closing = True
        for task in (self._keeper, self._notifier):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keeper = self._notifier = None
        async with self._lock:
            await self._drop()
        if self._engine is not None:
            await self._engine.dispose()

    def _heard(self, *_: Any) -> None:
        self.heard += 1
        self.local()

    async def _connected(self) -> AsyncConnection:
        """The connection, listening (opened if need be); the caller holds the lock."""
        if self._conn is None:
            assert self._engine is not None
            conn = await self._engine.connect()
            try:
                raw = await conn.get_raw_connection()
                await raw.driver_connection.add_listener(CHANNEL, self._heard)  # type: ignore[union-attr]
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _notify(self) -> None:
        """Send NOTIFY while one is owed: wakes made during a NOTIFY share the next one."""
        while self._due:
            self._due = False
            try:
                async with self._lock:
                    conn = await self._connected()
                    await conn.execute(text(f"NOTIFY {CHANNEL}"))
                    await conn.commit()
                self.notified += 1
            except Exception:
                logger.warning("outbox wake-up not sent; the leader polls", exc_info=True)
                async with self._lock:
                    await self._drop()
                return

    async def _keep(self) -> None:
        """Keep the listening connection alive; open it again if it was lost."""
        while True:
            await asyncio.sleep(self.keep_alive_seconds)
            try:
                async with self._lock:
                    conn = await self._connected()
                    await conn.execute(text("SELECT 1"))
                    await conn.commit()
            except Exception:
                logger.warning("outbox wake-up connection lost; opening it again", exc_info=True)
                async with self._lock:
                    await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection: nothing left to close
                await conn.close()
