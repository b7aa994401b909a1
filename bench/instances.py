"""Several instances on one PostgreSQL database: how fast N users' updates are handled by one
or several BotService instances (one process, a throwaway cluster from tests/postgres.py, the
in-process emulator), and what the shared inbox's claims cost against the single-process path.

    PYTHONPATH=. .venv/bin/python bench/instances.py --users 100 --messages 5 --rounds 2

Each round runs, alternating: ``1 plain`` (one instance, no claims: the single-process path),
``1 shared`` (one instance, claims), ``3 shared`` (three instances, claims); printed: the
seconds from the first message to the last reply and the updates per second. Not a test."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from bot.clock import OffsetClock
from bot.db import Database
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.seed import seed_demo
from handlers.main import populate_emulator
from handlers.runner import BotService
from sandbox.emulator import Emulator
from tests.postgres import TEMPLATE, Cluster, off_the_loop, pg_settings

TOKEN = "100000001:BENCH-TOKEN"


async def one(cluster: Cluster, instances: int, shared: bool, users: int, messages: int) -> float:
    name = await cluster.create(TEMPLATE)
    url = cluster.url(name)
    emu = Emulator(strict=False, time_scale=20.0)
    await emu.start()
    populate_emulator(emu, TOKEN)
    settings = pg_settings(url)
    runtimes = [Runtime(settings, Database(url), OffsetClock()) for _ in range(instances)]
    async with runtimes[0].db.session() as s:
        await seed_demo(s, runtimes[0].clock)
    services = []
    for rt in runtimes:
        service = BotService(
            rt,
            token=TOKEN,
            base_url=emu.base_url,
            base_file_url=emu.base_file_url,
            time_scale=20.0,
        )
        service.shared = shared
        await service.start()
        services.append(service)
    await services[0].idle()
    ids = [800_000 + n for n in range(users)]
    for u in ids:
        emu.create_user(u, first_name=f"B{u}")
    started = time.perf_counter()
    for _ in range(messages):
        for u in ids:
            emu.send_text(u, "/help")
    deadline = time.monotonic() + 120
    while _replies(emu, ids) < users * messages and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    took = time.perf_counter() - started
    replies = _replies(emu, ids)
    for service in services:
        await service.stop()
    for rt in runtimes:
        await rt.db.dispose()
    await emu.stop()
    await cluster.drop(name)
    assert replies == users * messages, (replies, users * messages)
    return took


def _replies(emu: Emulator, ids: list[int]) -> int:
    return sum(len([m for m in emu.messages(u) if m["outgoing"]]) for u in ids)


async def main(args: argparse.Namespace) -> None:
    cluster = Cluster()
    cluster.start()
    try:
        await cluster.admin(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
        off_the_loop(upgrade, cluster.url(TEMPLATE))
        total = args.users * args.messages
        for r in range(args.rounds):
            for label, n, shared in (
                ("1 plain", 1, False),
                ("1 shared", 1, True),
                ("3 shared", 3, True),
            ):
                took = await one(cluster, n, shared, args.users, args.messages)
                print(
                    f"round {r + 1} {label:9}: {took:6.2f} s, {total / took:6.1f} updates/s",
                    flush=True,
                )
    finally:
        cluster.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
