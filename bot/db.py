"""Database engine and unit of work.

SQLite: WAL, a busy timeout, foreign keys, and every write transaction begun with
``BEGIN IMMEDIATE`` so a read-then-write cannot fail half-way with "database is locked".
PostgreSQL: plain asyncpg; the conditional UPDATEs do the arbitration on both.
Both engines hide SQL parameters from exceptions and logs (``hide_parameters``): a failing
INSERT of a resident would otherwise carry their phone and name into the operator chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Executable

# How many write units of work the current task has open. Read by the Telegram side before
# each call (DESIGN rule 11: no network call inside a write transaction); one ContextVar read
# per call, so it is always on.
_open_writes: ContextVar[int] = ContextVar("paotui_open_writes", default=0)


def write_transaction_open() -> bool:
    """True inside ``Database.session()`` (a write unit of work) of the current task."""
    return _open_writes.get() > 0


async def affected_rows(session: AsyncSession, statement: Executable) -> int:
    """Run an INSERT, UPDATE or DELETE (without RETURNING) and return how many rows it
    changed (0 if the driver does not say). Such a statement gives a ``CursorResult``, but
    SQLAlchemy types ``Session.execute`` as the plain ``Result``, which has no ``rowcount``
    (sqlalchemy/sqlalchemy#12913, "expected behavior"): hence the cast."""
    result = cast("CursorResult[Any]", await session.execute(statement))
    return result.rowcount or 0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def safe_url(url: str) -> str:
    """The URL fit to print or log: the password replaced by ***. Anything that does not
    parse as a URL is not shown at all (it might be a password pasted in the wrong place)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # ArgumentError, ValueError: a garbled URL is still a secret
        return "<unparsable database URL>"


def without_password(text: str, url: str) -> str:
    """``text`` with the URL's password (if any) replaced by ***: a second net for messages
    that might quote the URL, such as a driver's connection error."""
    try:
        password = make_url(url).password
    except Exception:  # a URL that does not parse has no password we could find
        return text
    return text.replace(str(password), "***") if password else text


def ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


# Connections each SQLite engine keeps open: more than the tasks that use one at once (up to
# 256 concurrent updates and 256 sends in flight by the config's bounds, typically 16 + 16,
# plus the poller, the inbox processor and the sweep). SQLAlchemy's default (5, and 10 more
# opened and closed again as needed) was smaller than that: under load every update opened a
# fresh aiosqlite connection (a thread and four PRAGMAs) and closed it again.
SQLITE_POOL_SIZE = 40
SQLITE_POOL_OVERFLOW = 512


# PostgreSQL's JIT compiles a plan it estimates costly (a dispatcher's read of its bot's rows
# among 100,000 pending): 0.5 s of compiling for a 60 ms query, on every pass. Short OLTP
# statements never gain from it (bench/district.py: the database's CPU went to compiling).
POSTGRES_CONNECT: dict[str, Any] = {"server_settings": {"jit": "off"}}


def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> AsyncEngine:
    database = make_url(url).database
    # An in-memory database has a single connection (StaticPool): no pool to size.
    pool: dict[str, int] = (
        {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_OVERFLOW}
        if database and database != ":memory:"
        else {}
    )
    engine = create_async_engine(
        url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}, **pool
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One per process: a write sessionmaker (the unit of work) and a read-only one."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        # SQLite: one bot process (several share PostgreSQL), so state in its memory is whole.
        self.sqlite = is_sqlite(url)
        ensure_sqlite_dir(url)
        if self.sqlite:
            self.engine = _sqlite_engine(url, immediate=True, echo=echo)
            self._read_engine = _sqlite_engine(url, immediate=False, echo=echo)
        else:
            self.engine = create_async_engine(
                url,
                echo=echo,
                hide_parameters=True,
                pool_pre_ping=True,
                connect_args=POSTGRES_CONNECT,
            )
            self._read_engine = self.engine
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self._read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on error. Services never commit."""
        depth = _open_writes.set(_open_writes.get() + 1)
        try:
            async with self._writer() as session:
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        finally:
            # Closed from another task (a generator finalised late): nothing to undo there.
            with suppress(ValueError):
                _open_writes.reset(depth)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (no write lock on SQLite). Closing it (not rolling back) keeps
        loaded attributes readable after the block, as expire_on_commit=False does for writes."""
        async with self._reader() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
