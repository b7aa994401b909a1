"""`paotui backup` while the bot runs and writes, and the restore of what it made: residents
order through the real bot (BotService against the emulator) while backups are taken one after
another; each backup, restored into a fresh database, opens, is at head and is a consistent
snapshot (every order it holds is whole: the row as it was written, its first event, its
resident), and a backup taken once the orders are in holds exactly the live residents and
orders. On SQLite through the backup API; under ``--db postgres`` through pg_dump and
pg_restore on the tests' own server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from bot.backup import backup, restore
from bot.db import Database, is_sqlite
from bot.migrate import alembic_config
from models import Order, OrderEvent, Resident
from tests.factories import Harness, Person

if TYPE_CHECKING:
    from tests.postgres import Cluster

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
RESIDENTS = 6
ORDERS_EACH = 2
# The columns of an order fixed when it is written (the group post's id and the like come later).
STABLE = (Order.id, Order.resident_id, Order.category, Order.description, Order.room)


@pytest.fixture
def pg_tools(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pg_dump, pg_restore and psql on PATH, as `paotui backup` expects (the tests' server's)."""
    if is_sqlite(database_url):
        return
    from tests.postgres import find_bindir

    bindir = find_bindir()
    assert bindir is not None
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
async def fresh_urls(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[list[str]]:
    """Where restores go: new SQLite paths, or new empty PostgreSQL databases."""
    urls: list[str] = []
    yield urls
    if not is_sqlite(database_url):
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        for url in urls:
            await cluster.drop(url.rsplit("/", 1)[1])


async def _fresh(database_url: str, tmp_path: Path, urls: list[str], request: Any) -> str:
    if is_sqlite(database_url):
        url = f"sqlite+aiosqlite:///{tmp_path / f'restored-{len(urls)}.db'}"
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        url = cluster.url(await cluster.create())
    urls.append(url)
    return url


async def _snapshot(url: str) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.read() as s:
            return {
                "revision": await s.scalar(text("SELECT version_num FROM alembic_version")),
                "residents": (await s.execute(select(Resident.__table__))).all(),
                "orders": (await s.execute(select(*STABLE).order_by(Order.id))).all(),
                "first_events": set(
                    await s.scalars(
                        select(OrderEvent.order_id).where(OrderEvent.from_status.is_(None))
                    )
                ),
            }
    finally:
        await db.dispose()


async def _order_twice(h: Harness, p: Person, n: int) -> None:
    for k in range(ORDERS_EACH):
        await h.order(p, "groceries", f"白菜{n}-{k}，鸡蛋")


@pytest.mark.long
@pytest.mark.usefixtures("pg_tools")
async def test_backup_while_the_bot_writes_restores_whole(
    harness: Harness,
    database_url: str,
    tmp_path: Path,
    fresh_urls: list[str],
    request: pytest.FixtureRequest,
) -> None:
    h = harness
    people = [
        await h.register(3100 + n, f"居民{n}", room=f"{n + 1}01", phone=f"1380000{3100 + n}")
        for n in range(RESIDENTS)
    ]
    live_before = await _snapshot(database_url)
    suffix = ".db" if is_sqlite(database_url) else ".dump"

    # Residents order through the bot while backups are taken, one after another.
    ordering = asyncio.gather(*(_order_twice(h, p, n) for n, p in enumerate(people)))
    made: list[Path] = []
    while not ordering.done():
        target = tmp_path / "backups" / f"during-{len(made)}{suffix}"
        await asyncio.to_thread(backup, database_url, target)
        made.append(target)
        await asyncio.sleep(0.2)
    await ordering
    await h.settle()
    assert made, "no backup was taken while the residents ordered"

    # Once the orders are in (the bot still running): a backup of exactly what is live.
    final = tmp_path / "backups" / f"final{suffix}"
    done = await asyncio.to_thread(backup, database_url, final)
    assert done.path == final and done.size == final.stat().st_size > 0
    live = await _snapshot(database_url)
    assert len(live["orders"]) == RESIDENTS * ORDERS_EACH

    restored_url = await _fresh(database_url, tmp_path, fresh_urls, request)
    await asyncio.to_thread(restore, restored_url, final)
    restored = await _snapshot(restored_url)
    assert restored["revision"] == HEAD
    assert restored["residents"] == live["residents"]
    assert restored["orders"] == live["orders"]
    assert restored["first_events"] == live["first_events"]

    # Each backup taken mid-write is a snapshot: whole orders only, each as it was written.
    counts = []
    # Six of them, spread from the first to the last (a restore on PostgreSQL takes a second).
    picked = sorted({made[round(i * (len(made) - 1) / 5)] for i in range(6)}, key=made.index)
    for path in picked:
        url = await _fresh(database_url, tmp_path, fresh_urls, request)
        await asyncio.to_thread(restore, url, path)
        snap = await _snapshot(url)
        assert snap["revision"] == HEAD
        assert snap["residents"] == live["residents"]
        assert set(snap["orders"]) <= set(live["orders"])
        assert {o.id for o in snap["orders"]} == snap["first_events"]
        counts.append(len(snap["orders"]))
    assert counts == sorted(counts)
    assert len(live_before["orders"]) <= counts[0] and counts[-1] <= len(live["orders"])
