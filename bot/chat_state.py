"""Conversation progress kept in the database (a half-filled form survives a restart, and
carries over between instances sharing the database): the ``chat_state`` rows, and which
version of each this process last read or wrote, so that saving a value that has not changed
(most updates leave the form as it was) costs no write transaction, a write goes only over
the version it read, and an instance asks cheaply whether another one wrote since."""

from __future__ import annotations

import copy
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.clock import Clock
from bot.db import Database, affected_rows
from models import ChatState

logger = logging.getLogger(__name__)

StateKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Known:
    """A row as this process last read or wrote it."""

    version: int
    data: Any


def new_version() -> int:
    """A fresh stamp for a write: random, so a row deleted and written again never comes back
    with a stamp someone still remembers (a counter would restart)."""
    return secrets.randbits(62)


def _any_of(keys: list[StateKey]) -> ColumnElement[bool]:
    """The rows of ``keys``: one OR of primary keys (index lookups only)."""
    return or_(
        *(
            and_(ChatState.kind == kind, ChatState.name == name, ChatState.key == key)
            for kind, name, key in keys
        )
    )


class ChatStateStore:
    """The rows of one kind and name, keyed by ``key``.

    ``load`` and ``save`` remember each row's version and value. A ``save`` of the value the
    row already holds is skipped. A write is conditional on the version this process knows
    (an UPDATE or DELETE ``WHERE version = known``, an INSERT only if there is no row): if
    another instance wrote in between (or ``paotui resident forget`` deleted the row), the
    write is refused, the newer row stays, and the key is marked stale so that the next
    ``changed`` hands back what the database holds. So per key the first write over a version
    wins; a write based on an older read is dropped, never written over a newer one."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._known: dict[StateKey, Known] = {}
        self._stale: set[StateKey] = set()

    async def load(self, kind: str, name: str = "") -> dict[str, Any]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(ChatState.key, ChatState.version, ChatState.data).where(
                        ChatState.kind == kind, ChatState.name == name
                    )
                )
            ).all()
        loaded: dict[str, Any] = {}
        for row in rows:
            loaded[row.key] = row.data
            self._known[(kind, name, row.key)] = Known(row.version, copy.deepcopy(row.data))
        return loaded

    async def changed(self, keys: list[StateKey]) -> dict[StateKey, Any]:
        """Of ``keys``, those whose row another writer changed (or created, or deleted) since
        this process last read or wrote it, with what the row holds now (None: no row). One
        read by primary key."""
        if not keys:
            return {}
        wanted = _any_of(keys)
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(
                        ChatState.kind,
                        ChatState.name,
                        ChatState.key,
                        ChatState.version,
                        ChatState.data,
                    ).where(wanted)
                )
            ).all()
        found: dict[StateKey, tuple[int, Any]] = {
            (row.kind, row.name, row.key): (row.version, row.data) for row in rows
        }
        out: dict[StateKey, Any] = {}
        for k in keys:
            row = found.get(k)
            known = self._known.get(k)
            if k not in self._stale and (
                (row is None and known is None)
                or (row is not None and known is not None and known.version == row[0])
            ):
                continue
            self._stale.discard(k)
            if row is None:
                self._known.pop(k, None)
                out[k] = None
            else:
                self._known[k] = Known(row[0], copy.deepcopy(row[1]))
                out[k] = copy.deepcopy(row[1])
        return out

    async def unchanged(self, keys: list[StateKey]) -> bool:
        """True when no other writer changed (created, deleted) any of ``keys``' rows since this
        process last read or wrote them: one read by primary key. Unlike ``changed`` it learns
        nothing: what this process knows stays as it was."""
        if any(k in self._stale for k in keys):
            return False
        return not await self._differing(keys)

    def let_go(self, keys: list[StateKey]) -> None:
        """Forget what this process knows of ``keys``' rows (another instance holds them now):
        its next write of nothing there (a conversation ended here) then writes nothing, and
        its next ``changed`` hands back what the rows hold."""
        for k in keys:
            self._known.pop(k, None)
            self._stale.discard(k)

    async def _differing(self, keys: list[StateKey]) -> set[StateKey]:
        """Of ``keys``, those whose version in the database is not the one this process knows."""
        if not keys:
            return set()
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(ChatState.kind, ChatState.name, ChatState.key, ChatState.version).where(
                        _any_of(keys)
                    )
                )
            ).all()
        found = {(row.kind, row.name, row.key): row.version for row in rows}
        differing: set[StateKey] = set()
        for k in keys:
            known = self._known.get(k)
            if found.get(k) != (None if known is None else known.version):
                differing.add(k)
        return differing

    async def save(self, kind: str, name: str, key: str, data: Any) -> bool:
        """Upsert, or delete when ``data`` is None; nothing when the row already holds it.
        False when refused: another writer changed the row since this process read it."""
        k = (kind, name, key)
        known = self._known.get(k)
        if k not in self._stale and (
            (data is None and known is None) or (known is not None and known.data == data)
        ):
            return True
        version = await self._write(k, None if known is None else known.version, data)
        if version is None:
            logger.info("chat state %s/%s changed by another writer; not overwritten", kind, name)
            self._known.pop(k, None)
            self._stale.add(k)
            return False
        self._stale.discard(k)
        if data is None:
            self._known.pop(k, None)
        else:
            self._known[k] = Known(version, copy.deepcopy(data))
        return True

    async def _write(self, k: StateKey, known: int | None, data: Any) -> int | None:
        """The row's new version (0 once deleted), or None when the row is not at ``known``."""
        kind, name, key = k
        pk = and_(ChatState.kind == kind, ChatState.name == name, ChatState.key == key)
        version = new_version()
        async with self.db.session() as s:
            if data is None:
                if known is None:
                    return 0
                done = await affected_rows(
                    s, delete(ChatState).where(pk, ChatState.version == known)
                )
                return 0 if done else None
            if known is None:
                insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                stmt = insert(ChatState).values(
                    kind=kind,
                    name=name,
                    key=key,
                    data=data,
                    updated_at=self.clock.now(),
                    version=version,
                )
                done = await affected_rows(s, stmt.on_conflict_do_nothing())
            else:
                done = await affected_rows(
                    s,
                    update(ChatState)
                    .where(pk, ChatState.version == known)
                    .values(data=data, updated_at=self.clock.now(), version=version),
                )
            return version if done else None
