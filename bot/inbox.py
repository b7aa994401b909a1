"""The inbox (DESIGN rule 5): every incoming update is stored, unique by update_id, before it
is acknowledged, and processed from here; a redelivered update is recognised and skipped.
Several instances on one PostgreSQL database share it through ``claim``: an update is handled
by the instance that claimed it (a lease, taken over once it runs out), and one user's updates
(one serial key) are claimed in order. Update ids are per bot (a district runs one bot per
community): every function reads and writes one bot's rows (``bot``: its ``[[bots]]`` name,
"" for the single [bot])."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bot.clock import Clock
from bot.db import POSTGRES_CONNECT
from models import InboxUpdate

MAX_ATTEMPTS = 3

# The table itself, for the statements each update makes (store, mark): Core statements, which
# skip the ORM's bulk-statement path (its evaluation of the WHERE clause against the session's
# objects, its key resolution) that an ORM-enabled INSERT or UPDATE takes.
INBOX = cast(Table, InboxUpdate.__table__)


async def record(
    session: AsyncSession, clock: Clock, updates: Sequence[tuple[int, str]], bot: str = ""
) -> int:
    """Store updates; return how many were new. A known update_id is left as it is."""
    return len(await record_new(session, clock, updates, bot=bot))


async def record_new(
    session: AsyncSession,
    clock: Clock,
    updates: Sequence[tuple[int, str]],
    keys: Mapping[int, str] | None = None,
    *,
    bot: str = "",
) -> set[int]:
    """Store updates; return the ids of those that were new (a known one is left as it is).
    ``keys``: each update's serial key (one user's updates are claimed in order)."""
    if not updates:
        return set()
    now = clock.now()
    keys = keys or {}
    values = [
        {
            "bot": bot,
            "update_id": uid,
            "payload": payload,
            "received_at": now,
            "serial_key": keys.get(uid),
        }
        for uid, payload in updates
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(INBOX)
        .values(values)
        .on_conflict_do_nothing(index_elements=["bot", "update_id"])
        .returning(INBOX.c.update_id)
    )
    return set((await session.execute(stmt)).scalars())


async def pending(session: AsyncSession, limit: int = 200, bot: str = "") -> list[InboxUpdate]:
    rows = await session.execute(
        select(InboxUpdate)
        .where(
            InboxUpdate.bot == bot,
            InboxUpdate.processed_at.is_(None),
            InboxUpdate.attempts < MAX_ATTEMPTS,
        )
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return list(rows.scalars())


async def pending_ids(session: AsyncSession, limit: int = 200, bot: str = "") -> list[int]:
    """The ids of ``pending``, without their payloads (the processor already holds most)."""
    rows = await session.execute(
        select(InboxUpdate.update_id)
        .where(
            InboxUpdate.bot == bot,
            InboxUpdate.processed_at.is_(None),
            InboxUpdate.attempts < MAX_ATTEMPTS,
        )
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return list(rows.scalars())


async def payloads(
    session: AsyncSession, update_ids: Sequence[int], bot: str = ""
) -> list[tuple[int, str]]:
    """(update_id, payload) of these updates, in update_id order."""
    if not update_ids:
        return []
    rows = await session.execute(
        select(InboxUpdate.update_id, InboxUpdate.payload)
        .where(InboxUpdate.bot == bot, InboxUpdate.update_id.in_(update_ids))
        .order_by(InboxUpdate.update_id)
    )
    return [(uid, payload) for uid, payload in rows]


async def mark_processed(
    session: AsyncSession, clock: Clock, update_id: int, error: str | None = None, bot: str = ""
) -> None:
    await session.execute(
        update(INBOX)
        .where(INBOX.c.bot == bot, INBOX.c.update_id == update_id)
        .values(
            processed_at=clock.now() if error is None else None,
            attempts=INBOX.c.attempts + 1,
            error=error,
            claimed_by=None,  # failed: any instance may try it again
            lease_until=None,
        )
    )


async def mark_done(
    session: AsyncSession, clock: Clock, update_ids: Sequence[int], bot: str = ""
) -> None:
    """``mark_processed`` of updates that all succeeded, in one statement."""
    if not update_ids:
        return
    await session.execute(
        update(INBOX)
        .where(INBOX.c.bot == bot, INBOX.c.update_id.in_(update_ids))
        .values(processed_at=clock.now(), attempts=INBOX.c.attempts + 1, error=None)
    )


async def last_update_id(session: AsyncSession, bot: str = "") -> int | None:
    return (
        await session.execute(select(func.max(InboxUpdate.update_id)).where(InboxUpdate.bot == bot))
    ).scalar()


# Claims of all instances are made one at a time (a transaction-level advisory lock, released
# at commit): a claim then sees every earlier claim committed, so two instances never take two
# updates of one user at once. One lock per bot: the bots of a district claim side by side.
CLAIM_LOCK = 0x7061_6F74  # "paot"


def claim_lock(bot: str) -> int:
    """The claims' advisory lock for a bot (``CLAIM_LOCK`` itself for the single [bot])."""
    return CLAIM_LOCK | ((zlib.crc32(bot.encode()) & 0x7FFF_FFFF) << 32) if bot else CLAIM_LOCK


async def claim(
    session: AsyncSession,
    now: datetime,
    me: str,
    until: datetime,
    limit: int = 200,
    bot: str = "",
) -> list[tuple[int, str]]:
    """PostgreSQL, several instances: claim for ``me`` (until ``until``) the pending updates
    no live lease holds, whose serial key has no earlier pending update held by another
    instance; (update_id, payload) of those claimed, in update_id order. One batch, two
    statements (the lock, the UPDATE … RETURNING), whatever the number of updates."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": claim_lock(bot)})
    cand, earlier = INBOX.alias("cand"), INBOX.alias("earlier")
    held_elsewhere = exists().where(
        earlier.c.bot == bot,
        earlier.c.serial_key == cand.c.serial_key,
        earlier.c.update_id < cand.c.update_id,
        earlier.c.processed_at.is_(None),
        earlier.c.attempts < MAX_ATTEMPTS,
        earlier.c.claimed_by != me,
        earlier.c.lease_until >= now,
    )
    wanted = (
        select(cand.c.update_id)
        .where(
            cand.c.bot == bot,
            cand.c.processed_at.is_(None),
            cand.c.attempts < MAX_ATTEMPTS,
            or_(cand.c.claimed_by.is_(None), cand.c.lease_until < now),
            ~held_elsewhere,
        )
        .order_by(cand.c.update_id)
        .limit(limit)
    )
    free = or_(INBOX.c.claimed_by.is_(None), INBOX.c.lease_until < now)
    rows = await session.execute(
        update(INBOX)
        .where(INBOX.c.bot == bot, INBOX.c.update_id.in_(wanted), free)
        .values(claimed_by=me, lease_until=until)
        .returning(INBOX.c.update_id, INBOX.c.payload)
    )
    return sorted((row.update_id, row.payload) for row in rows)


async def renew(
    session: AsyncSession, me: str, update_ids: Sequence[int], until: datetime, bot: str = ""
) -> None:
    """Extend ``me``'s leases on these updates (still being handled)."""
    if update_ids:
        await session.execute(
            update(INBOX)
            .where(
                and_(
                    INBOX.c.bot == bot,
                    INBOX.c.update_id.in_(update_ids),
                    INBOX.c.claimed_by == me,
                )
            )
            .values(lease_until=until)
        )


async def release(session: AsyncSession, me: str) -> None:
    """Give up ``me``'s claims on updates not processed (an instance stopping)."""
    await session.execute(
        update(INBOX)
        .where(INBOX.c.claimed_by == me, INBOX.c.processed_at.is_(None))
        .values(claimed_by=None, lease_until=None)
    )


class Claims:
    """An instance's claims on a connection of their own (one, kept open): a claim never
    waits behind the handlers for a pooled connection (it did: ~0.3 s a claim with 16
    updates under way on PostgreSQL's default pool of 5 + 10)."""

    def __init__(self, url: str, bot: str = "") -> None:
        self.bot = bot
        self._engine = create_async_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args=POSTGRES_CONNECT,
        )

    async def claim(
        self, now: datetime, me: str, until: datetime, limit: int, renewed: Sequence[int]
    ) -> list[tuple[int, str]]:
        """Renew ``me``'s leases on ``renewed``, then ``claim`` up to ``limit``; one commit."""
        async with AsyncSession(self._engine) as session, session.begin():
            await renew(session, me, renewed, until, self.bot)
            return await claim(session, now, me, until, limit, self.bot) if limit > 0 else []

    async def close(self) -> None:
        await self._engine.dispose()
