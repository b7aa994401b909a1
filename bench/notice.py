"""Benchmark: a notice to N residents through the emulator (which enforces Telegram's limits).

    .venv/bin/python bench/notice.py [--residents 20000] [--rate 29] [--strict] [--burn K]

Starts the emulator and the real BotService on a temporary SQLite file (as the tests do),
sends one notice to the whole community, waits until every message is delivered, and prints
the sustained rate (first to last delivery), the 429s received (by limit), and duplicates.
The target is at least 97% of Telegram's broadcast limit (30/s, so 29.1/s) with zero 429s.
``--strict`` judges the limits where each request arrives (as Telegram does); ``--burn K``
runs K CPU-spinning neighbour processes meanwhile. It also prints where each request arrived
within its flight as the pacer saw it (left here .. answer back), and the busiest second of
arrivals.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.emulated import TOKEN, bot, emulated, residents  # noqa: E402
from bench.neighbours import burners, stop  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.outbox.pacer import Flight  # noqa: E402
from bot.seed import DEMO, seed_demo  # noqa: E402
from bot.services import notices  # noqa: E402

TELEGRAM_BROADCAST_LIMIT = 30.0


def _q(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def _ms(xs: list[float]) -> str:
    return (
        f"p50 {_q(xs, 0.5) * 1000:.1f} / p95 {_q(xs, 0.95) * 1000:.1f} / "
        f"max {max(xs, default=float('nan')) * 1000:.1f} ms"
    )


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any half-open window of one second."""
    times = sorted(times)
    best = lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def flight_report(flights: dict[int, Flight], arrivals: dict[int, float]) -> None:
    """Each private chat got one message: its flight (pacer's stamps) and its arrival."""
    trips, after_leaving, before_answer, outside = [], [], [], 0
    for chat, f in flights.items():
        if f.done is None or chat not in arrivals:
            continue
        a = arrivals[chat]
        trips.append(f.done - f.sent)
        after_leaving.append(a - f.sent)
        before_answer.append(f.done - a)
        outside += not f.sent <= a <= f.done
    mean = sum(trips) / len(trips) if trips else float("nan")
    print(f"round trip as the pacer saw it: mean {mean * 1000:.1f} ms, {_ms(trips)}")
    print(f"  arrival after leaving:  {_ms(after_leaving)}")
    print(f"  answer after arrival:   {_ms(before_answer)}")
    print(
        f"  arrivals outside their flight: {outside}; 30/(1 + mean round trip) = "
        f"{30 / (1 + mean):.2f}/s"
    )
    print(f"busiest second of arrivals: {busiest_second(list(arrivals.values()))}")
    calls, spent = PACER_CPU
    print(
        f"pacer: global_wait asked {calls / max(1, len(flights)):.1f} times per send, "
        f"{spent * 1e6 / max(1, calls):.0f} us each, {spent:.2f} s in all"
    )
    sent = sorted(f.sent for f in flights.values())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    if gaps:
        step = 1 / 29.8
        over = [g - step for g in gaps if g > step]
        long = [g - step for g in gaps if g > 3 * step]
        print(
            f"gaps between sends: {_ms(gaps)}; beyond 1/29.8 s: {sum(over):.2f} s in all, "
            f"{sum(long):.2f} s of it in {len(long)} gaps over 3/29.8 s"
        )


async def run(n: int, rate: float | None, strict: bool, tmp: Path) -> int:
    db_path = tmp / "paotui.db"
    overrides: dict[str, dict[str, object]] = {
        "database": {"url": f"sqlite+aiosqlite:///{db_path}"},
        "bot": {"poll_timeout": 2},
    }
    if rate is not None:
        overrides["outbox"] = {"global_per_second": rate}
    settings = load_settings(ROOT / "config.example.toml", **overrides)
    async with emulated(settings, strict=strict) as (rt, emu):
        db = rt.db
        async with db.session() as s:
            await seed_demo(s, rt.clock)
        ids = list(range(1_000_000, 1_000_000 + n))
        await residents(rt, emu, ids)
        async with bot(rt, emu) as service:
            emu.reset_stats(TOKEN)
            emu.reset_limits_state(TOKEN)
            flights, arrivals = watch(service, emu)
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
            refused = dict(emu.bot(TOKEN).limiter.refused)
            if strict:
                print(
                    f"429s per chat: {refused.get('private', 0)}, "
                    f"group: {refused.get('group', 0)}, global: {refused.get('global', 0)} "
                    "(strict: judged where requests arrive)"
                )
            print(f"duplicates: {duplicates}, missing: {missing}")
            flight_report(flights, arrivals)
            ok = share >= 97.0 and stats["rate_limited"] == 0 and duplicates == 0 and missing == 0
            print(
                "target (>= 97% of 30/s, zero 429s, none twice, none missing):",
                "MET" if ok else "NOT MET",
            )
            return 0 if ok else 1


def watch(service: Any, emu: Any) -> tuple[dict[int, Flight], dict[int, float]]:
    """Record each chat's flight (as the pacer stamps it) and its arrival at the emulator."""
    flights: dict[int, Flight] = {}
    arrivals: dict[int, float] = {}
    pacer = service.dispatcher.pacer
    sender = service.dispatcher.sender
    limiter = emu.bot(TOKEN).limiter
    send, consume = sender.send, limiter.consume

    async def send_watched(out: Any) -> Any:
        # The pacer took this send's overall slot just before, with no await in between.
        flights[out.chat_id] = pacer._global[-1]
        return await send(out)

    def consume_watched(chat_id: int, private: bool) -> None:
        if private:
            arrivals[chat_id] = limiter._arrival()
        consume(chat_id, private)

    global_wait = pacer.global_wait

    def global_wait_timed() -> float:
        t = time.perf_counter()
        try:
            return float(global_wait())
        finally:
            PACER_CPU[0] += 1
            PACER_CPU[1] += time.perf_counter() - t

    sender.send = send_watched
    limiter.consume = consume_watched
    pacer.global_wait = global_wait_timed
    return flights, arrivals


# The pacer's global_wait: how often it was asked and the seconds it took.
PACER_CPU = [0, 0.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument(
        "--rate", type=float, default=None, help="[outbox] global_per_second (default: config)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="judge the limits where requests arrive"
    )
    parser.add_argument("--burn", type=int, default=0, help="CPU-burning neighbour processes")
    parser.add_argument("--burn-seconds", type=float, default=1200.0, help="their longest life")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="paotui-bench-"))
    spinning = burners(args.burn, args.burn_seconds)
    try:
        upgrade(f"sqlite+aiosqlite:///{tmp / 'paotui.db'}")  # runs its own event loop
        code = asyncio.run(run(args.residents, args.rate, args.strict, tmp))
    finally:
        stop(spinning)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
