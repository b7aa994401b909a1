"""The inbox (DESIGN rule 5): every incoming update is stored, unique by update_id, before it
is acknowledged, and processed from here; a redelivered update is recognised and skipped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from models import InboxUpdate

MAX_ATTEMPTS = 3

# The table itself, for the statements each update makes (store, mark): Core statements, which
# skip the ORM's bulk-statement path (its evaluation of the WHERE clause against the session's
# objects, its key resolution) that an ORM-enabled INSERT or UPDATE takes.
INBOX = cast(Table, InboxUpdate.__table__)


async def record(session: AsyncSession, clock: Clock, updates: Sequence[tuple[int, str]]) -> int:
    """Store updates; return how many were new. A known update_id is left as it is."""
    return len(await record_new(session, clock, updates))


async def record_new(
    session: AsyncSession, clock: Clock, updates: Sequence[tuple[int, str]]
) -> set[int]:
    """Store updates; return the ids of those that were new (a known one is left as it is)."""
    if not updates:
        return set()
    now = clock.now()
    values = [
        {"update_id": uid, "payload": payload, "received_at": now} for uid, payload in updates
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(INBOX)
        .values(values)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(INBOX.c.update_id)
    )
    return set((await session.execute(stmt)).scalars())


async def pending(session: AsyncSession, limit: int = 200) -> list[InboxUpdate]:
    rows = await session.execute(
        select(InboxUpdate)
        .where(InboxUpdate.processed_at.is_(None), InboxUpdate.attempts < MAX_ATTEMPTS)
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return list(rows.scalars())


async def pending_ids(session: AsyncSession, limit: int = 200) -> list[int]:
    """The ids of ``pending``, without their payloads (the processor already holds most)."""
    rows = await session.execute(
        select(InboxUpdate.update_id)
        .where(InboxUpdate.processed_at.is_(None), InboxUpdate.attempts < MAX_ATTEMPTS)
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return list(rows.scalars())


async def payloads(session: AsyncSession, update_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(update_id, payload) of these updates, in update_id order."""
    if not update_ids:
        return []
    rows = await session.execute(
        select(InboxUpdate.update_id, InboxUpdate.payload)
        .where(InboxUpdate.update_id.in_(update_ids))
        .order_by(InboxUpdate.update_id)
    )
    return [(uid, payload) for uid, payload in rows]


async def mark_processed(
    session: AsyncSession, clock: Clock, update_id: int, error: str | None = None
) -> None:
    await session.execute(
        update(INBOX)
        .where(INBOX.c.update_id == update_id)
        .values(
            processed_at=clock.now() if error is None else None,
            attempts=INBOX.c.attempts + 1,
            error=error,
        )
    )


async def mark_done(session: AsyncSession, clock: Clock, update_ids: Sequence[int]) -> None:
    """``mark_processed`` of updates that all succeeded, in one statement."""
    if not update_ids:
        return
    await session.execute(
        update(INBOX)
        .where(INBOX.c.update_id.in_(update_ids))
        .values(processed_at=clock.now(), attempts=INBOX.c.attempts + 1, error=None)
    )


async def last_update_id(session: AsyncSession) -> int | None:
    return (await session.execute(select(func.max(InboxUpdate.update_id)))).scalar()
