"""Conversation progress kept in the database (a half-filled form survives a restart)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.clock import Clock
from bot.db import Database
from models import ChatState


class ChatStateStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def load(self, kind: str, name: str = "") -> dict[str, Any]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(ChatState).where(ChatState.kind == kind, ChatState.name == name)
            )
            return {r.key: r.data for r in rows}

    async def save(self, kind: str, name: str, key: str, data: Any) -> None:
        """Upsert, or delete when ``data`` is None."""
        async with self.db.session() as s:
            if data is None:
                await s.execute(
                    delete(ChatState).where(
                        ChatState.kind == kind, ChatState.name == name, ChatState.key == key
                    )
                )
                return
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            values = {
                "kind": kind,
                "name": name,
                "key": key,
                "data": data,
                "updated_at": self.clock.now(),
            }
            stmt = insert(ChatState).values(values)
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["kind", "name", "key"],
                    set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
                )
            )
