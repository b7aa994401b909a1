"""The flood guard's counts shared by every instance on one database: each person's recent
private updates in ``flood_counters`` (one row a person: the times of their updates within the
window, when they were last warned), read and written under a row lock, so that two or three
instances together let a person through exactly as one would. The rule itself (``step``) is
the in-memory guard's: at most N updates in any window, one warning per window."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.db import Database
from models import FloodCounter

WINDOW = 60.0


def step(
    hits: list[float], warned_at: float | None, now: float, per_minute: int, window: float
) -> tuple[list[float], float | None, bool, bool]:
    """(hits, warned_at, allowed, warn now) after one more update at ``now``."""
    recent = [t for t in hits if t > now - window]
    if len(recent) < per_minute:
        return [*recent, now], warned_at, True, False
    warn = warned_at is None or warned_at <= now - window
    return recent, now if warn else warned_at, False, warn


class FloodCounters:
    """One person's counts per row; one short write transaction per private update (lock the
    row, or create it, then write it back). Rows of people quiet for a whole window are
    deleted, at most once a window by each instance."""

    def __init__(self, db: Database, window: float = WINDOW) -> None:
        self.db = db
        self.window = window
        self._pruned_at = float("-inf")

    async def hit(self, telegram_id: int, now: float, per_minute: int) -> tuple[bool, bool]:
        """(allowed, warn now) for one more update of ``telegram_id`` at ``now`` (epoch
        seconds, the same clock on every instance)."""
        if now - self._pruned_at >= self.window:
            await self._prune(now)
        async with self.db.session() as s:
            lock = select(FloodCounter).where(FloodCounter.telegram_id == telegram_id)
            row = await s.scalar(lock.with_for_update())
            if row is None:
                insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                await s.execute(
                    insert(FloodCounter)
                    .values(telegram_id=telegram_id, hits=[], warned_at=None, last_at=now)
                    .on_conflict_do_nothing()
                )
                # Ours, or another instance's made meanwhile: locked either way.
                row = await s.scalar(
                    lock.with_for_update().execution_options(populate_existing=True)
                )
                assert row is not None
            hits, warned_at, allowed, warn = step(
                list(row.hits), row.warned_at, now, per_minute, self.window
            )
            row.hits, row.warned_at, row.last_at = hits, warned_at, max(row.last_at, now)
        return allowed, warn

    async def _prune(self, now: float) -> None:
        self._pruned_at = now
        async with self.db.session() as s:
            await s.execute(delete(FloodCounter).where(FloodCounter.last_at <= now - self.window))
