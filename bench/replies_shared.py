"""Reply latency with several instances on one PostgreSQL database: an instance that does not
lead hands its replies to the leader's outbox (and wakes it with NOTIFY), the leader answers
directly. How long from a user's message to the reply's arrival, answered by the leader or by
another instance, with the outbox idle and during a broadcast. Not a test.

    PYTHONPATH=. .venv/bin/python bench/replies_shared.py --instances 3 --users 40 --rounds 2

A throwaway cluster (tests/postgres.py), the in-process emulator at Telegram's real speed
(time scale 1, lenient: the bench measures, the tests judge), three BotService instances in
this process, none polling: each ``/help`` is handed to the instance the bench picks (user n
to instance n mod k), as the inbox's claims would. ``--poll`` is the outbox's ``poll_seconds``
(the default, 0.5, and far more to show the NOTIFY alone). Each round: ``idle`` (the users
write one every ``--gap`` seconds), then ``broadcast`` (the same during a broadcast of
``--broadcast`` rows at priority 10, the leader's dispatcher busy at 30/s), with the woken pass
starting over (``restart``) and not (``no-restart``), alternating. Printed: p50 / p95 / max
latency in ms per kind of instance, and the 429s."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import time
from typing import Any

from telegram import Update

from bot import outbox
from bot.clock import OffsetClock
from bot.db import Database
from bot.migrate import upgrade
from bot.outbox import Dispatcher
from bot.runtime import Runtime
from bot.seed import seed_demo
from handlers.main import populate_emulator
from handlers.persistence import refresh
from handlers.runner import BotService
from sandbox.emulator import Emulator
from tests.postgres import TEMPLATE, Cluster, off_the_loop, pg_settings

TOKEN = "100000001:BENCH-TOKEN"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _handle(service: BotService, data: dict[str, Any]) -> None:
    app = service.app
    update = Update.de_json(data, app.bot)
    await refresh(app, update)
    await app.process_update(update)
    await app.update_persistence()


async def one(
    cluster: Cluster, args: argparse.Namespace, broadcast: bool, restart: bool, base: int
) -> dict[str, list[float]]:
    name = await cluster.create(TEMPLATE)
    url = cluster.url(name)
    emu = Emulator(strict=False, time_scale=1.0)
    await emu.start()
    populate_emulator(emu, TOKEN)
    settings = pg_settings(url, outbox={"poll_seconds": args.poll})
    runtimes = [Runtime(settings, Database(url), OffsetClock()) for _ in range(args.instances)]
    async with runtimes[0].db.session() as s:
        await seed_demo(s, runtimes[0].clock)
    services: list[BotService] = []
    Dispatcher.restart_on_wake = restart
    for rt in runtimes:
        service = BotService(
            rt, token=TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url
        )
        await service.start(poll=False)
        services.append(service)
    assert services[0].leadership.leading
    users = [base + n for n in range(args.users)]
    said: dict[int, float] = {}
    arrived: dict[int, float] = {}
    everyone = asyncio.Event()

    def on_change(chat: Any, msg: dict[str, Any] | None) -> None:
        if msg is not None and msg.get("outgoing") and chat.id in said and chat.id not in arrived:
            arrived[chat.id] = time.perf_counter()
            if len(arrived) == len(users):
                everyone.set()

    emu.listeners.append(on_change)
    for u in users:
        emu.create_user(u, first_name=f"B{u}")
    raw = services[0].raw_bot
    offset = None
    while updates := await raw.get_updates(offset=offset, timeout=0):  # the demo's own
        offset = updates[-1].update_id + 1
    if broadcast:
        rt = runtimes[0]
        async with rt.db.session() as s:
            for n in range(args.broadcast):
                outbox.enqueue(s, rt.clock, chat_id=900_000 + n, text="通知", priority=10)
        rt.wake_outbox()
        await asyncio.sleep(1.0)  # the broadcast under way
    tasks = []
    for n, u in enumerate(users):
        emu.send_text(u, "/help")
        said[u] = time.perf_counter()
        updates = await raw.get_updates(offset=offset, timeout=1)
        for upd in updates:
            offset = upd.update_id + 1
            tasks.append(asyncio.create_task(_handle(services[n % len(services)], upd.to_dict())))
        await asyncio.sleep(args.gap)
    await asyncio.gather(*tasks)
    with contextlib.suppress(TimeoutError):  # the missing are counted
        await asyncio.wait_for(everyone.wait(), 60)
    refused = dict(emu.bot(TOKEN).limiter.refused_ever)
    for service in services:
        await service.stop()
    for rt in runtimes:
        await rt.db.dispose()
    await emu.stop()
    await cluster.drop(name)
    out: dict[str, list[float]] = {"leader": [], "other": []}
    for n, u in enumerate(users):
        if u in arrived:
            out["leader" if n % len(services) == 0 else "other"].append(
                (arrived[u] - said[u]) * 1000
            )
    out["missing"] = [float(len(users) - len(arrived))]
    out["429"] = [float(sum(refused.values()))]
    return out


def _line(label: str, result: dict[str, list[float]]) -> str:
    parts = [f"{label:26s}"]
    for kind in ("leader", "other"):
        v = result[kind]
        if v:
            parts.append(
                f"{kind}: p50 {statistics.median(v):6.0f} p95 {_pct(v, 0.95):6.0f}"
                f" max {max(v):6.0f} ms (n={len(v)})"
            )
    parts.append(f"missing {result['missing'][0]:.0f}, 429s {result['429'][0]:.0f}")
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between two users")
    parser.add_argument("--broadcast", type=int, default=600)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    cluster = Cluster()
    cluster.start()
    try:
        off_the_loop(asyncio.run, cluster.admin(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0'))
        off_the_loop(upgrade, cluster.url(TEMPLATE))
        base = 800_000
        for r in range(1, args.rounds + 1):
            for label, broadcast, restart in (
                ("idle", False, True),
                ("broadcast, restart", True, True),
                ("broadcast, no-restart", True, False),
            ):
                base += 1000
                result = asyncio.run(one(cluster, args, broadcast, restart, base))
                print(f"round {r} " + _line(label, result), flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
