"""One bot per community: what a bot's dispatcher pays to find its own outbox rows. A district
notice leaves ``--households`` pending rows, the households of ``--bots`` communities in
community order, each chat mapped to its community's bot (``chat_bots``). Prints the seconds of
the dispatcher's read (bot.outbox.dispatcher: 1,000 rows, by priority and id) for the first
bot (``NOT IN`` the others' chats), the last bot (``IN`` its own: its rows come last), the
last bot by its chats alone (without the clause sending an edit through its original's
bot), and a single bot (no filter), on SQLite and on a throwaway PostgreSQL cluster.

    PYTHONPATH=. .venv/bin/python bench/bot_rows.py --households 100000 --bots 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, insert, select, true

from bot.chat_bots import outbox_rows
from bot.db import Database
from bot.migrate import upgrade
from bot.outbox.rows import row
from models import ChatBot, OutboxMessage, OutboxStatus
from tests.postgres import TEMPLATE, Cluster, off_the_loop


async def fill(db: Database, households: int, bots: list[str]) -> None:
    now = datetime.now(UTC)
    per = households // len(bots)
    outbox = cast(Table, OutboxMessage.__table__)
    for start in range(0, households, 5000):
        chats = range(1_000_000 + start, 1_000_000 + min(start + 5000, households))
        async with db.session() as s:
            await s.execute(
                insert(outbox), [row(now, chat_id=c, text="通知", priority=10) for c in chats]
            )
            await s.execute(
                insert(cast(Table, ChatBot.__table__)),
                [{"chat_id": c, "bot": bots[(c - 1_000_000) // per]} for c in chats],
            )


async def read(db: Database, rows: ColumnElement[bool]) -> float:
    started = time.perf_counter()
    async with db.read() as s:
        got = (
            (
                await s.execute(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]), rows
                    )
                    .order_by(OutboxMessage.priority, OutboxMessage.id)
                    .limit(1000)
                )
            )
            .scalars()
            .all()
        )
    assert len(got) == 1000
    return time.perf_counter() - started


async def measure(label: str, url: str, households: int, bots: list[str], repeat: int) -> None:
    db = Database(url)
    await fill(db, households, bots)
    mine = select(ChatBot.chat_id).where(ChatBot.bot == bots[-1])
    cases: dict[str, Any] = {
        "one bot (no filter)": true(),
        "first of N (NOT IN)": outbox_rows(bots[0], bots),
        "last of N (IN)": outbox_rows(bots[-1], bots),
        "last, by chat only": OutboxMessage.chat_id.in_(mine),  # without edits' authors
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeat):  # alternating
        for name, clause in cases.items():
            times[name].append(await read(db, clause))
    for name, ts in times.items():
        print(f"{label:10} {name:22}: median {statistics.median(ts) * 1000:7.1f} ms", flush=True)
    await db.dispose()


async def main(args: argparse.Namespace) -> None:
    bots = [f"c{i:02d}" for i in range(args.bots)]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        off_the_loop(upgrade, url)
        await measure("sqlite", url, args.households, bots, args.repeat)
    cluster = Cluster()
    cluster.start()
    try:
        await cluster.admin(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
        off_the_loop(upgrade, cluster.url(TEMPLATE))
        name = await cluster.create(TEMPLATE)
        await measure("postgres", cluster.url(name), args.households, bots, args.repeat)
    finally:
        cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
