"""Benchmark: Telegram's limits where requests arrive, with people at a person's pace.

    .venv/bin/python bench/pacing.py [--residents 30] [--households 2000] [--burn 0]

Starts the emulator in strict mode (limits judged where each request arrives, no burst in a
private chat, as Telegram does) and the real BotService on a temporary SQLite file. N residents
register by buttons and order, thinking 1-3 s between their steps, all at once; then a notice
goes to the whole community. Prints the 429s by kind (per private chat, group, global; the goal
is 0) and the notice's sustained rate (as bench/notice.py). ``--burn K`` runs K processes
spinning the CPU for the whole run (a busy neighbour), killed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.emulated import TOKEN, bot, emulated, residents  # noqa: E402
from bench.neighbours import burners, stop  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.seed import DEMO, seed_demo  # noqa: E402
from bot.services import notices  # noqa: E402
from tests.factories import Harness, register_by_buttons  # noqa: E402


async def resident(h: Harness, uid: int, rng: random.Random) -> None:
    async def think() -> None:
        await asyncio.sleep(rng.uniform(1.0, 3.0))

    p = h.person(uid, f"居民{uid}")
    await think()
    await register_by_buttons(h, p)
    await think()
    p.contact(f"138{uid % 10**8:08d}")
    await p.expect(f"138{uid % 10**8:08d}", timeout=60)
    await think()
    await h.order(p, "groceries", "两颗白菜，一盒鸡蛋", "today")


async def notice_rate(h: Harness, n: int) -> tuple[int, float]:
    """A notice to n more households; (messages, sustained messages/s)."""
    emu, db, rt = h.emu, h.rt.db, h.rt
    await residents(rt, emu, range(2_000_000, 2_000_000 + n), phone="139")
    before = emu.stats(TOKEN)["sent"]
    async with db.session() as s:
        notice = await notices.create(
            rt, s, DEMO.staff[0][0], notices.COMMUNITY, "c1", "致全体居民的一封信（压测）"
        )
    rt.wake_outbox()
    total = notice.recipients + len(DEMO.grids)
    first: float | None = None
    while (sent := emu.stats(TOKEN)["sent"] - before) < total:
        if sent and first is None:
            first = time.monotonic()
        await asyncio.sleep(0.02)
    assert first is not None
    span = time.monotonic() - first
    return total, (total - 1) / span if span > 0 else float("inf")


async def run(args: argparse.Namespace, tmp: Path) -> int:
    db_path = tmp / "paotui.db"
    settings = load_settings(
        ROOT / "config.example.toml",
        database={"url": f"sqlite+aiosqlite:///{db_path}"},
        bot={"poll_timeout": 2},
    )
    async with emulated(settings, strict=True) as (rt, emu):
        async with rt.db.session() as s:
            await seed_demo(s, rt.clock)
        async with bot(rt, emu) as service:
            h = Harness(service=service, rt=rt, emu=emu)
            emu.reset_stats(TOKEN)
            emu.reset_limits_state(TOKEN)
            rng = random.Random(13)
            t0 = time.monotonic()
            uids = [3_000_000 + i for i in range(args.residents)]
            await asyncio.gather(*(resident(h, uid, rng) for uid in uids))
            await h.settle(60)
            journey = time.monotonic() - t0
            refused = dict(emu.bot(TOKEN).limiter.refused)
            print(
                f"{args.residents} residents registered and ordered in {journey:.1f}s "
                f"(burn {args.burn}); 429s per chat: {refused.get('private', 0)}, group: "
                f"{refused.get('group', 0)}, global: {refused.get('global', 0)}"
            )
            emu.reset_limits_state(TOKEN)  # also zeroes the refusals by kind
            emu.reset_stats(TOKEN)
            total, per_s = await notice_rate(h, args.households)
            await service.dispatcher.drain(60)
            refused = dict(emu.bot(TOKEN).limiter.refused)
            print(
                f"notice: {total} messages at {per_s:.2f}/s ({per_s / 30 * 100:.1f}% of 30/s); "
                f"429s per chat: {refused.get('private', 0)}, group: {refused.get('group', 0)}, "
                f"global: {refused.get('global', 0)}"
            )
            return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=30)
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--burn", type=int, default=0, help="CPU-burning neighbour processes")
    parser.add_argument("--burn-seconds", type=float, default=600.0, help="their longest life")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="paotui-bench-"))
    spinning = burners(args.burn, args.burn_seconds)
    try:
        upgrade(f"sqlite+aiosqlite:///{tmp / 'paotui.db'}")  # runs its own event loop
        code = asyncio.run(run(args, tmp))
    finally:
        stop(spinning)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
