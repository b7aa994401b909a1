"""Benchmark: paotui's CPU per update and replies/s against a bare PTB echo bot, same emulator.

    .venv/bin/python bench/throughput.py [--users 200] [--messages 5] [--rounds 2]
                                         [--burst 5000] [--profile FILE] [--compare DIR]

Starts the emulator (sandbox/, Telegram's limits: its defaults) in this process, then, one
after the other and alternating (echo, paotui, echo, paotui, ...), each bot in its own
subprocess long polling the emulator: a bare python-telegram-bot Application with one
MessageHandler echoing the text, and paotui (the real BotService, as bench/notice.py starts
it, on a temporary SQLite file with the demo community seeded and the users registered as
residents beforehand). The same closed-loop load goes through the emulator's control API
(sandbox.client): N users, M messages each, each user waits for the bot's reply to its message
before sending the next. paotui's per-message path is ``/help``: a resident's cheapest honest
round trip (the inbox, the update's unit of work, roles and language, a reply through the
outbox). Printed per run: round trips/s, reply latency p50/p95, the bot process's CPU seconds
per update (utime+stime from /proc/<pid>/stat over the load, all its threads), then the
ratios paotui CPU/update / echo CPU/update (goal <= 3) and paotui replies/s / 29.8 (goal
>= 0.95), each from the medians of the rounds. Then the burst: a notice to the K residents,
and once delivered all K press "✅ 收到" at once: p95 of the time to the answerCallbackQuery,
from the burst's start and from each press. ``--profile FILE`` runs paotui under cProfile
(written to FILE.<round>) for ``python -m pstats``. ``--compare DIR`` also runs the paotui of
another checkout, as "before", in each round: a change's before/after in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.clock import OffsetClock  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.seed import DEMO, seed_demo  # noqa: E402
from bot.services import notices  # noqa: E402
from handlers.main import populate_emulator  # noqa: E402
from handlers.runner import BotService  # noqa: E402
from models import Resident  # noqa: E402
from sandbox.client import SandboxClient  # noqa: E402
from sandbox.emulator import Emulator  # noqa: E402

PAOTUI = "100000001:BENCH-PAOTUI"
ECHO = "100000002:BENCH-ECHO"
BUDGET = 29.8  # the outbox's global messages/s (Telegram's ~30/s)
FIRST_UID = 1_000_000
RECEIVED = "✅"


def settings_for(db_path: Path) -> Settings:
    return load_settings(
        ROOT / "config.example.toml",
        database={"url": f"sqlite+aiosqlite:///{db_path}"},
        bot={"poll_timeout": 2},
    )


# ---------------------------------------------------------------------- the bots (children)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    while True:
        try:
            await msg.reply_text(msg.text)
            return
        except RetryAfter as e:  # the emulator holds it to Telegram's limits too
            wait = e.retry_after
            await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else wait)


async def run_child(kind: str, base_url: str, file_url: str, db_path: Path) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if kind == "echo":
        app = Application.builder().token(ECHO).base_url(base_url).base_file_url(file_url).build()
        app.add_handler(MessageHandler(filters.TEXT, echo))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=2)
            print("ready", flush=True)
            await stop.wait()
            await app.updater.stop()
            await app.stop()
        return
    db = Database(settings_for(db_path).database.url)
    rt = Runtime(settings_for(db_path), db, OffsetClock())
    service = BotService(rt, token=PAOTUI, base_url=base_url, base_file_url=file_url)
    await service.start()
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        await service.stop()
        await db.dispose()


def child_main(args: argparse.Namespace) -> None:
    coro = run_child(args.child, args.base_url, args.file_url, Path(args.db))
    if args.profile:
        import cProfile

        with cProfile.Profile() as prof:
            asyncio.run(coro)
        prof.dump_stats(args.profile)
    else:
        asyncio.run(coro)


# ---------------------------------------------------------------------- the driver


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    kind: str
    trips: int
    seconds: float
    cpu: float
    latencies: list[float]
    rate_limited: int
    driver_cpu: float  # this process: the emulator and the users

    @property
    def per_s(self) -> float:
        return self.trips / self.seconds

    @property
    def cpu_per_update(self) -> float:
        return self.cpu / self.trips

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.kind:>6}: {self.trips} round trips in {self.seconds:.1f}s = "
            f"{self.per_s:.2f}/s, latency p50 {self.pct(0.5) * 1000:.0f} ms "
            f"p95 {self.pct(0.95) * 1000:.0f} ms, CPU {self.cpu:.2f}s = "
            f"{self.cpu_per_update * 1000:.2f} ms/update, 429s {self.rate_limited}, "
            f"emulator+users CPU {self.driver_cpu / self.seconds * 100:.0f}%"
        )


class Bench:
    def __init__(self, emu: Emulator, args: argparse.Namespace, db_path: Path) -> None:
        self.emu = emu
        self.args = args
        self.db_path = db_path
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
        self.client = SandboxClient(emu.url, timeout=180)
        self.client._http = httpx.AsyncClient(base_url=emu.url, timeout=180, limits=limits)

    def spawn(self, kind: str, profile: str | None) -> subprocess.Popen[str]:
        script = __file__
        if kind == "before":  # the same benchmark, from the other checkout
            kind, script = "paotui", str(Path(self.args.compare, "bench", "throughput.py"))
        cmd = [sys.executable, script, "--child", kind, "--base-url", self.emu.base_url]
        cmd += ["--file-url", self.emu.base_file_url, "--db", str(self.db_path)]
        if profile:
            cmd += ["--profile", profile]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{kind} bot did not start")
        return proc

    async def user(self, uid: int, token: str, text: str, count: int, out: list[float]) -> None:
        for _ in range(count):
            t0 = time.monotonic()
            sent = await self.client.send_text(uid, text, token=token)
            await self.client.wait_for(
                uid, lambda m: True, 300, after_message_id=sent["message_id"], token=token
            )
            out.append(time.monotonic() - t0)

    async def load(self, kind: str, profile: str | None) -> Run:
        token, text = (ECHO, "你好 echo") if kind == "echo" else (PAOTUI, "/help")
        proc = await asyncio.to_thread(self.spawn, kind, profile)
        try:
            warm: list[float] = []
            await asyncio.gather(
                *(self.user(FIRST_UID + i, token, text, 1, warm) for i in range(10))
            )
            await asyncio.sleep(1.0)  # the warm-up's replies and start-up calls out of the way
            self.emu.reset_stats(token)
            latencies: list[float] = []
            cpu0, t0, own0 = cpu_seconds(proc.pid), time.monotonic(), time.process_time()
            await asyncio.gather(
                *(
                    self.user(FIRST_UID + i, token, text, self.args.messages, latencies)
                    for i in range(self.args.users)
                )
            )
            seconds, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
            rate_limited = int(self.emu.stats(token)["rate_limited"])
            own = time.process_time() - own0
            return Run(kind, len(latencies), seconds, cpu, latencies, rate_limited, own)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)

    async def burst(self, rt: Runtime) -> None:
        k = self.args.burst
        proc = await asyncio.to_thread(self.spawn, "paotui", None)
        try:
            await asyncio.sleep(1.0)
            self.emu.reset_stats(PAOTUI)
            async with rt.db.session() as s:
                notice = await notices.create(
                    rt, s, DEMO.staff[0][0], notices.COMMUNITY, "c1", "压测通知：请点收到"
                )
            total = notice.recipients + len(DEMO.grids)
            t0 = time.monotonic()
            while self.emu.stats(PAOTUI)["sent"] < total:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.2)
            print(f"burst: notice to {total} chats delivered in {time.monotonic() - t0:.1f}s")
            targets = []
            for uid in range(FIRST_UID, FIRST_UID + k):
                msg = self.emu.messages(uid, token=PAOTUI)[-1]
                data = next(d for t, d in SandboxClient.buttons(msg) if RECEIVED in t)
                targets.append((uid, msg["message_id"], str(data)))
            self.emu.reset_stats(PAOTUI)
            from_start: list[float] = []
            from_press: list[float] = []
            start = time.monotonic()
            cpu0 = cpu_seconds(proc.pid)

            async def press(uid: int, message_id: int, data: str) -> None:
                pressed = time.monotonic()
                qid = await self.client.press(uid, uid, message_id, data, token=PAOTUI)
                await self.client.callback_answer(qid, timeout=170)
                now = time.monotonic()
                from_start.append(now - start)
                from_press.append(now - pressed)

            await asyncio.gather(*(press(*t) for t in targets))
            cpu = cpu_seconds(proc.pid) - cpu0
            from_start.sort()
            from_press.sort()
            p95 = int(0.95 * len(from_start))
            print(
                f"burst: {k} presses of {RECEIVED} at once: answerCallbackQuery p95 "
                f"{from_start[p95]:.2f}s from the burst's start (max {from_start[-1]:.2f}s), "
                f"p95 {from_press[p95]:.2f}s from each press; CPU {cpu / k * 1000:.2f} "
                f"ms/press; 429s {self.emu.stats(PAOTUI)['rate_limited']}"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)


def report(runs: dict[str, list[Run]]) -> None:
    """The ratios, from the medians of the rounds (and each round's, for the spread)."""
    echo = runs["echo"]
    for kind in [k for k in runs if k != "echo"]:
        cpu = statistics.median(x.cpu_per_update for x in runs[kind])
        per_round = ", ".join(
            f"{p.cpu_per_update / e.cpu_per_update:.2f}"
            for e, p in zip(echo, runs[kind], strict=True)
        )
        print(
            f"CPU per update, {kind} / echo: "
            f"{cpu / statistics.median(x.cpu_per_update for x in echo):.2f}x "
            f"(per round: {per_round}; goal <= 3x)"
        )
        rate = statistics.median(x.per_s for x in runs[kind])
        print(f"{kind} replies/s / {BUDGET}/s: {rate / BUDGET:.2f} (goal >= 0.95)")
    if "before" in runs:
        cpu_now = statistics.median(x.cpu_per_update for x in runs["paotui"])
        cpu_before = statistics.median(x.cpu_per_update for x in runs["before"])
        print(f"CPU per update, paotui / before: {cpu_now / cpu_before:.2f}")


async def seed(rt: Runtime, emu: Emulator, n: int) -> None:
    async with rt.db.session() as s:
        await seed_demo(s, rt.clock)
    populate_emulator(emu, PAOTUI)
    emu.register_bot(ECHO, username="echo_bot", first_name="echo")
    buildings = sum(len(g.buildings) for g in DEMO.grids)
    now = rt.clock.now()
    rows = []
    for i, uid in enumerate(range(FIRST_UID, FIRST_UID + n)):
        emu.create_user(uid, first_name=f"居民{uid}")
        for token in (PAOTUI, ECHO):
            emu.private_chat(emu.bot(token), uid).started = True
        rows.append(
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
        )
    async with rt.db.session() as s:
        for i in range(0, len(rows), 2000):
            await s.execute(insert(Resident), rows[i : i + 2000])


async def run(args: argparse.Namespace, db_path: Path) -> None:
    settings = settings_for(db_path)
    rt = Runtime(settings, Database(settings.database.url), OffsetClock())
    emu = Emulator()
    await emu.start()
    bench = Bench(emu, args, db_path)
    try:
        await seed(rt, emu, max(args.users, args.burst))
        kinds = ["echo", "paotui"] + (["before"] if args.compare else [])
        runs: dict[str, list[Run]] = {kind: [] for kind in kinds}
        for r in range(args.rounds):
            for kind in kinds:
                profile = f"{args.profile}.{r}" if args.profile and kind == "paotui" else None
                done = await bench.load(kind, profile)
                runs[kind].append(done)
                print(done.line(), flush=True)
        if args.rounds:
            report(runs)
        if args.burst:
            await bench.burst(rt)
    finally:
        await bench.client.close()
        await emu.stop()
        await rt.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Each bot runs in its own subprocess; the figures are from one sitting.",
    )
    parser.add_argument("--users", type=int, default=200, help="N users (default 200)")
    parser.add_argument("--messages", type=int, default=5, help="M messages each (default 5)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="echo+paotui pairs (default 2; 0: the burst only)"
    )
    parser.add_argument(
        "--burst", type=int, default=5000, help="K residents pressing ✅ (0: no burst)"
    )
    parser.add_argument("--profile", help="cProfile paotui into PROFILE.<round>")
    parser.add_argument(
        "--compare",
        metavar="DIR",
        help="another checkout (e.g. `git archive main | tar -x -C DIR`): its paotui runs too, "
        "as 'before', alternating with this one's",
    )
    for hidden in ("--child", "--base-url", "--file-url", "--db"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="paotui-throughput-"))
    try:
        upgrade(f"sqlite+aiosqlite:///{tmp / 'paotui.db'}")  # runs its own event loop
        asyncio.run(run(args, tmp / "paotui.db"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
