"""One bot per community, measured: a district notice from an admin to ``--households``
households of ``--communities`` communities, through the emulator at Telegram's own speed
(strict: limits judged where requests arrive), sent by one bot for the whole district and by
one bot per community (``[[bots]]``), alternating. Prints, for each: the seconds from the
first delivery to the last, the rate (deliveries per second), the 429s and any household
that got it twice or not at all, and the CPU the process used meanwhile (the bots and the
emulator share it: past one core the emulator, not Telegram, is the limit).

    PYTHONPATH=. .venv/bin/python bench/bot_per_community.py --households 600 --communities 2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "1")

from sqlalchemy import insert, select

from bot.clock import OffsetClock
from bot.config import BotEntry, load_settings
from bot.db import Database
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.seed import Demo, DemoGrid, ensure_admins, seed_demo
from bot.services import notices
from handlers.bots import Bots, BotSpec
from models import Building, Resident
from sandbox.emulator import Emulator
from tests.postgres import off_the_loop

ROOT = Path(__file__).resolve().parent.parent
ADMIN = 9999
TEXT = "全区通知（压测）"


def community(k: int) -> Demo:
    return Demo(
        community=f"社区{k}",
        code=f"c{k}",
        grids=[
            DemoGrid(
                "一网格", -1003000000000 - k, f"社区{k} 跑腿群", [("小区", "1栋", f"c{k}b1", 1)], []
            )
        ],
        staff=[],
        residents=[],
    )


async def one(tmp: Path, households: int, communities: int, per_community: bool) -> None:
    url = f"sqlite+aiosqlite:///{tmp}/{'many' if per_community else 'one'}-{time.time_ns()}.db"
    off_the_loop(upgrade, url)
    codes = [f"c{k}" for k in range(communities)]
    bots = (
        [
            BotEntry(name=c, token_env=c.upper(), username=f"paotui_{c}_bot", communities=[c])
            for c in codes
        ]
        if per_community
        else []
    )
    settings = load_settings(
        ROOT / "config.example.toml",
        database={"url": url},
        bot={"poll_timeout": 2},
        reports={"daily_summary_at": ""},
    ).model_copy(update={"bots": bots})
    db = Database(url)
    rt = Runtime(settings, db, OffsetClock())
    emu = Emulator(strict=True)
    await emu.start()
    tokens = [f"{200000001 + k}:BENCH-{k}" for k in range(communities)]
    if not per_community:
        tokens = tokens[:1]
    specs = (
        [
            BotSpec(c, t, f"paotui_{c}_bot", frozenset({c}))
            for c, t in zip(codes, tokens, strict=True)
        ]
        if per_community
        else [BotSpec("", tokens[0], "paotui_bot")]
    )
    for spec in specs:
        emu.register_bot(spec.token, username=spec.username)
    now = rt.clock.now()
    async with db.session() as s:
        await ensure_admins(s, rt.clock, [ADMIN])
        for k in range(communities):
            await seed_demo(s, rt.clock, community(k))
    homes: dict[int, list[int]] = {}
    for k, code in enumerate(codes):
        token = tokens[k] if per_community else tokens[0]
        g = community(k).grids[0]
        emu.create_group(
            g.group_title, members=[], with_bot=True, token=token, group_id=g.group_chat_id
        )
        ids = [1_000_000 + k * 100_000 + i for i in range(households // communities)]
        homes[k] = ids
        async with db.session() as s:
            building = await s.scalar(select(Building.id).where(Building.code == f"{code}b1"))
            rows = [
                {
                    "telegram_id": uid,
                    "name": f"居民{uid}",
                    "phone": f"138{uid % 10**8:08d}",
                    "building_id": building,
                    "unit": "1",
                    "room": str(100 + i % 900),
                    "created_at": now,
                    "updated_at": now,
                }
                for i, uid in enumerate(ids)
            ]
            await s.execute(insert(Resident), rows)
        for uid in ids:
            emu.create_user(uid, first_name=f"居民{uid}")
            emu.private_chat(emu.bot(token), uid).started = True
    district = Bots(rt, specs, base_url=emu.base_url, base_file_url=emu.base_file_url)
    await district.adopt()
    for service in district.services:
        await service.start()
    await asyncio.sleep(1.0)
    for token in tokens:
        emu.reset_stats(token)
    async with db.session() as s:
        notice = await notices.create(rt, s, ADMIN, notices.EVERYONE, "all", TEXT)
    rt.wake_outbox()
    total = notice.recipients + communities  # the households and the groups
    started = time.monotonic()
    cpu = time.process_time()
    first: float | None = None
    while sum(emu.stats(t)["sent"] for t in tokens) < total:
        sent = sum(emu.stats(t)["sent"] for t in tokens)
        if sent and first is None:
            first = time.monotonic()
        assert time.monotonic() - started < 600, "too slow"
        await asyncio.sleep(0.02)
    last = time.monotonic()
    cpu = time.process_time() - cpu
    got = {
        uid: sum(
            1
            for t in tokens
            for m in emu.messages(uid, token=t)
            if m["outgoing"] and TEXT in (m.get("text") or "")
        )
        for ids in homes.values()
        for uid in ids
    }
    refused = sum(emu.stats(t)["rate_limited"] for t in tokens)
    took = last - (first or started)
    label = f"{len(specs)} bot{'s' if len(specs) > 1 else ''}"
    print(
        f"{label:8}: {total} messages, first to last {took:6.2f} s, {total / took:6.1f}/s, "
        f"429s {refused}, twice {sum(c > 1 for c in got.values())}, "
        f"none {sum(c == 0 for c in got.values())}; this process's CPU (bots and emulator) "
        f"{cpu / (last - started):.2f} of a core",
        flush=True,
    )
    for service in district.services:
        await service.stop()
    await district.close()
    await emu.stop()
    await db.dispose()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for per_community in (False, True):
                await one(Path(tmp), args.households, args.communities, per_community)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=600)
    parser.add_argument("--communities", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
