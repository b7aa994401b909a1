"""Conversation progress kept in the database (a half-filled form survives a restart): the
``chat_state`` rows, and what this process last wrote to each, so that saving a value that has
not changed (most updates leave the form as it was) costs no write transaction."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.clock import Clock
from bot.db import Database
from models import ChatState

StateKey = tuple[str, str, str]
_ABSENT = object()


class ChatStateStore:
    """The rows of one kind and name, keyed by ``key``. ``load`` and ``save`` remember what
    the row holds (as this process last read or wrote it); a ``save`` of that same value is
    skipped. Another process deleting a row (``paotui resident forget``) is not undone by a
    later save of the unchanged value; a changed value is written as always."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._known: dict[StateKey, Any] = {}

    async def load(self, kind: str, name: str = "") -> dict[str, Any]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(ChatState).where(ChatState.kind == kind, ChatState.name == name)
            )
            loaded = {r.key: r.data for r in rows}
        for key, data in loaded.items():
            self._known[(kind, name, key)] = copy.deepcopy(data)
        return loaded

    async def save(self, kind: str, name: str, key: str, data: Any) -> None:
        """Upsert, or delete when ``data`` is None; nothing when the row already holds it."""
        known = self._known.get((kind, name, key), _ABSENT)
        if (data is None and known is _ABSENT) or (known is not _ABSENT and known == data):
            return
        await self._write(kind, name, key, data)
        if data is None:
            self._known.pop((kind, name, key), None)
        else:
            self._known[(kind, name, key)] = copy.deepcopy(data)

    async def _write(self, kind: str, name: str, key: str, data: Any) -> None:
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
