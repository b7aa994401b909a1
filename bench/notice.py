"""Benchmark: a notice to N residents through the emulator (which enforces Telegram's limits).

    .venv/bin/python bench/notice.py [--residents 20000] [--rate 29]

Starts the emulator and the real BotService on a temporary SQLite file (as the tests do),
sends one notice to the whole community, waits until every message is delivered, and prints
the sustained rate (first to last delivery), the 429s received, and duplicates. The target is
at least 95% of Telegram's broadcast limit (30/s, so 28.5/s) with zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.clock import OffsetClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.seed import DEMO, seed_demo  # noqa: E402
from bot.services import notices  # noqa: E402
from models import Resident  # noqa: E402

TOKEN = "100000001:BENCH-TOKEN"
TELEGRAM_BROADCAST_LIMIT = 30.0


async def run(n: int, rate: float | None, tmp: Path) -> int:
    from handlers.main import populate_emulator
    from handlers.runner import BotService
    from sandbox.emulator import Emulator

    db_path = tmp / "paotui.db"
    overrides: dict[str, dict[str, object]] = {
        "database": {"url": f"sqlite+aiosqlite:///{db_path}"},
        "bot": {"poll_timeout": 2},
    }
    if rate is not None:
        overrides["outbox"] = {"global_per_second": rate}
    settings = load_settings(ROOT / "config.example.toml", **overrides)
    db = Database(settings.database.url)
    rt = Runtime(settings, db, OffsetClock())
    emu = Emulator()
    await emu.start()
    service = None
    try:
        async with db.session() as s:
            await seed_demo(s, rt.clock)
        populate_emulator(emu, TOKEN)
        bot = emu.bot(TOKEN)
        ids = list(range(1_000_000, 1_000_000 + n))
        for uid in ids:
            emu.create_user(uid, first_name=f"居民{uid}")
            emu.private_chat(bot, uid).started = True
        buildings = sum(len(g.buildings) for g in DEMO.grids)
        now = rt.clock.now()
        rows = [
            {
                "telegram_id": uid,
                "name": f"居民{uid}",
                "phone": f"138{uid % 10**8:08d}",
                "building_id": 1 + i % buildings,
                "unit": "1",
                "room": str(100 + i % 900),
                "created_at": now,
                "updated_at": now,
            }
            for i, uid in enumerate(ids)
        ]
        async with db.session() as s:
            for i in range(0, len(rows), 2000):
                await s.execute(insert(Resident), rows[i : i + 2000])
        service = BotService(
            rt, token=TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url
        )
        await service.start()
        await asyncio.sleep(1.0)  # start-up calls out of the way
        emu.reset_stats(TOKEN)
        emu.reset_limits_state(TOKEN)
        t0 = time.monotonic()
        async with db.session() as s:
            notice = await notices.create(
                rt, s, DEMO.staff[0][0], notices.COMMUNITY, "c1", "致全体居民的一封信（压测）"
            )
        written = time.monotonic() - t0
        rt.wake_outbox()
        total = notice.recipients + len(DEMO.grids)  # households and the group chats
        print(f"notice #{notice.id}: {total} messages written to the outbox in {written:.2f}s")
        first: float | None = None
        last_report = time.monotonic()
        while True:
            sent = emu.stats(TOKEN)["sent"]
            now_m = time.monotonic()
            if sent and first is None:
                first = now_m
            if sent >= total:
                last = now_m
                break
            if now_m - last_report >= 30:
                last_report = now_m
                rate_now = sent / (now_m - first) if first else 0.0
                print(f"  {sent}/{total} delivered, {rate_now:.2f}/s so far", flush=True)
            await asyncio.sleep(0.05)
        await service.dispatcher.drain(60)
        stats = emu.stats(TOKEN)
        assert first is not None
        span = last - first
        per_s = (total - 1) / span if span > 0 else float("inf")
        duplicates = 0
        missing = 0
        for uid in ids:
            k = sum(1 for m in emu.messages(uid, token=TOKEN) if m["outgoing"])
            duplicates += max(0, k - 1)
            missing += k == 0
        share = per_s / TELEGRAM_BROADCAST_LIMIT * 100
        print(f"residents: {n}, messages: {total}, delivered: {stats['sent']}")
        print(f"sustained: {per_s:.2f} messages/s over {span:.1f}s ({share:.1f}% of 30/s)")
        print(
            f"429s received: {stats['rate_limited']} (dispatcher retries: "
            f"{service.dispatcher.retry_count})"
        )
        print(f"duplicates: {duplicates}, missing: {missing}")
        ok = share >= 95.0 and stats["rate_limited"] == 0 and duplicates == 0 and missing == 0
        print(
            "target (>= 95% of 30/s, zero 429s, none twice, none missing):",
            "MET" if ok else "NOT MET",
        )
        return 0 if ok else 1
    finally:
        if service is not None:
            await service.stop()
        await emu.stop()
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument(
        "--rate", type=float, default=None, help="[outbox] global_per_second (default: config)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="paotui-bench-"))
    try:
        upgrade(f"sqlite+aiosqlite:///{tmp / 'paotui.db'}")  # runs its own event loop
        code = asyncio.run(run(args.residents, args.rate, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
