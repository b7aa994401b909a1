"""Benchmark: paotui's CPU per update and replies/s against a bare PTB echo bot, same emulator.

    .venv/bin/python bench/throughput.py [--users 200] [--messages 5] [--rounds 2]
                                         [--burst 5000] [--wave 500] [--profile FILE]
                                         [--compare DIR] [--skip-echo]

Starts the emulator (sandbox/, Telegram's limits: its defaults) in a process of its own, then,
one after the other and alternating (echo, paotui, echo, paotui, ...), each bot in its own
subprocess long polling the emulator: a bare python-telegram-bot Application with one
MessageHandler echoing the text, and paotui (the real BotService, as bench/notice.py starts
it, on a temporary SQLite file with the demo community seeded and the users registered as
residents beforehand). The same closed-loop load goes through the emulator's control API
(sandbox.client), from this process: N users, M messages each, each user waits for the bot's
reply to its message before sending the next. paotui's per-message path is ``/help``: a
resident's cheapest honest round trip (the inbox, the update's context with roles and
language, a direct reply through the pacer). Printed per run: round trips/s, reply latency
p50/p95, the bot process's CPU seconds per update (utime+stime from /proc/<pid>/stat over the
load, all its threads), the CPU of the emulator's process and of this one (the users), the
share of the time the bot was ready to run but waited for a core (other processes), then
the ratios paotui CPU/update / echo CPU/update (goal <= 3) and paotui replies/s / 29.8 (goal
>= 0.95), each from the medians of the rounds. Then the burst: a notice to the K residents,
and once delivered all K press "✅ 收到" at once (``--wave`` connections at a time): how many
were answered, p95 of the time to the answerCallbackQuery from the burst's start and from each
press; a failed or unanswered press is counted; then how long until the ✅ was taken off
every message (the edits, sent by the outbox after the answers). ``--profile FILE`` runs
paotui under cProfile (written to FILE.<round>) for ``python -m pstats``. ``--compare DIR``
also runs the paotui of another checkout, as "before", in each round: a change's before/after
in one sitting (``--skip-echo``: those two only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
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
from telegram import Update  # noqa: E402
from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bench.emulated import resident_rows  # noqa: E402
from bot.clock import OffsetClock  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.seed import DEMO, seed_demo  # noqa: E402
from bot.services import notices  # noqa: E402
from handlers.main import populate_emulator  # noqa: E402
from handlers.runner import BotService  # noqa: E402
from sandbox.client import SandboxClient  # noqa: E402
from sandbox.emulator import Emulator  # noqa: E402
from sandbox.errors import SandboxError  # noqa: E402

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


class LoopWatch:
    """The bot child's event loop, watched from the driver's SIGUSR1 (start afresh) to its
    SIGUSR2 (print one ``watch`` JSON line): the longest stall (a 5 ms sleep woken late: the
    loop busy with one step, or the process off a core) and the garbage collector's pauses
    (``gc.callbacks``: how many full collections, the longest pause and the total, in the
    loop thread's CPU time, so that time off a core is not counted as the collector's)."""

    TICK = 0.005

    def __init__(self) -> None:
        self.reset()
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def reset(self) -> None:
        self.longest = 0.0
        self.full = 0
        self.gc_longest = 0.0
        self.gc_total = 0.0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
            return
        took = time.thread_time() - self._gc_started
        self.full += info["generation"] == 2
        self.gc_longest = max(self.gc_longest, took)
        self.gc_total += took

    async def run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.TICK)
            self.longest = max(self.longest, time.perf_counter() - t0 - self.TICK)

    def report(self) -> None:
        figures = {
            "stall_ms": self.longest * 1000,
            "gc_full": self.full,
            "gc_longest_ms": self.gc_longest * 1000,
            "gc_total_ms": self.gc_total * 1000,
        }
        print("watch " + json.dumps(figures), flush=True)


async def run_child(kind: str, base_url: str, file_url: str, db_path: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
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
    watch = LoopWatch()
    loop.add_signal_handler(signal.SIGUSR1, watch.reset)
    loop.add_signal_handler(signal.SIGUSR2, watch.report)
    watching = asyncio.create_task(watch.run())
    print("ready watch", flush=True)
    try:
        await stop.wait()
    finally:
        watching.cancel()
        await service.stop()
        await db.dispose()


async def run_emulator(users: int) -> None:
    """The emulator in a process of its own (``--child emulator``), its side of the world
    seeded: the demo's people and groups, ``users`` residents who started both bots. Prints
    its URLs as one JSON line, serves until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    emu = Emulator()
    await emu.start()
    populate_emulator(emu, PAOTUI)
    emu.register_bot(ECHO, username="echo_bot", first_name="echo")
    for uid in range(FIRST_UID, FIRST_UID + users):
        emu.create_user(uid, first_name=f"居民{uid}")
        for token in (PAOTUI, ECHO):
            emu.private_chat(emu.bot(token), uid).started = True
    urls = {"url": emu.url, "base_url": emu.base_url, "file_url": emu.base_file_url}
    print(json.dumps(urls), flush=True)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def child_main(args: argparse.Namespace) -> None:
    if args.child == "emulator":
        asyncio.run(run_emulator(int(args.seed)))
        return
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


def waited_seconds(pid: int, *, main_only: bool = False) -> float:
    """How long the process's threads (or its main thread: the event loop) were ready to run
    but waited for a core (the scheduler's run queue, /proc/<pid>/task/*/schedstat): CPU
    starvation by other processes."""
    tasks = [Path(f"/proc/{pid}/task/{pid}")] if main_only else Path(f"/proc/{pid}/task").iterdir()
    total = 0
    for task in tasks:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


@dataclass
class Run:
    kind: str
    trips: int
    seconds: float
    cpu: float
    latencies: list[float]
    rate_limited: int
    users_cpu: float  # this process: the users
    emulator_cpu: float  # the emulator's process
    waited: float  # the bot's threads: ready to run, waiting for a core
    loop_waited: float  # the same, of its main thread (the event loop) alone
    harness_waited: tuple[float, float]  # the same, of the emulator's and of the users' loop
    watched: dict[str, float] | None = None  # the bot's LoopWatch over the load

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
            f"CPU of the emulator {self.emulator_cpu / self.seconds * 100:.0f}%, "
            f"of the users {self.users_cpu / self.seconds * 100:.0f}% of a core; the bot's "
            f"threads waited for a core {self.waited / self.seconds * 100:.0f}% of the time "
            f"(summed), its event loop {self.loop_waited / self.seconds * 100:.0f}%, the "
            f"emulator's {self.harness_waited[0] / self.seconds * 100:.0f}%, the users' "
            f"{self.harness_waited[1] / self.seconds * 100:.0f}%" + self.watch_line()
        )

    def watch_line(self) -> str:
        w = self.watched
        if w is None:
            return ""
        return (
            f"; its event loop's longest stall {w['stall_ms']:.0f} ms, full GCs "
            f"{w['gc_full']:.0f}, GC pauses (CPU) longest {w['gc_longest_ms']:.1f} ms, "
            f"{w['gc_total_ms']:.0f} ms in all"
        )


class Bench:
    def __init__(self, args: argparse.Namespace, db_path: Path, emulator: Emulated) -> None:
        self.args = args
        self.db_path = db_path
        self.emu = emulator
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
        self.client = SandboxClient(emulator.url, timeout=180)
        self.client._http = httpx.AsyncClient(base_url=emulator.url, timeout=180, limits=limits)
        self.watched: dict[int, bool] = {}  # child pid -> it has the LoopWatch

    def spawn(self, kind: str, profile: str | None) -> subprocess.Popen[str]:
        script = __file__
        if kind == "before":  # the same benchmark, from the other checkout
            kind, script = "paotui", str(Path(self.args.compare, "bench", "throughput.py"))
        cmd = [sys.executable, script, "--child", kind, "--base-url", self.emu.base_url]
        cmd += ["--file-url", self.emu.file_url, "--db", str(self.db_path)]
        if profile:
            cmd += ["--profile", profile]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        ready = proc.stdout.readline().strip()
        if ready not in ("ready", "ready watch"):
            raise RuntimeError(f"{kind} bot did not start")
        self.watched[proc.pid] = ready == "ready watch"  # an older checkout's has no watch
        return proc

    def watch_start(self, proc: subprocess.Popen[str]) -> None:
        if self.watched.get(proc.pid):
            proc.send_signal(signal.SIGUSR1)

    def watch_read(self, proc: subprocess.Popen[str]) -> dict[str, float] | None:
        """The child's ``watch`` line (its event loop's stalls and GC pauses since
        ``watch_start``), or None for a child without the watch."""
        if not self.watched.get(proc.pid):
            return None
        assert proc.stdout is not None
        proc.send_signal(signal.SIGUSR2)
        line = proc.stdout.readline()
        return dict(json.loads(line.removeprefix("watch ")))

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
            await self.client.reset_stats(token)
            latencies: list[float] = []
            cpu0, t0, own0 = cpu_seconds(proc.pid), time.monotonic(), time.process_time()
            emu0, wait0 = cpu_seconds(self.emu.pid), waited_seconds(proc.pid)
            loop0 = waited_seconds(proc.pid, main_only=True)
            emu_loop0 = waited_seconds(self.emu.pid, main_only=True)
            own_loop0 = waited_seconds(os.getpid(), main_only=True)
            self.watch_start(proc)
            await asyncio.gather(
                *(
                    self.user(FIRST_UID + i, token, text, self.args.messages, latencies)
                    for i in range(self.args.users)
                )
            )
            seconds, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
            own, emu = time.process_time() - own0, cpu_seconds(self.emu.pid) - emu0
            waited = waited_seconds(proc.pid) - wait0
            loop = waited_seconds(proc.pid, main_only=True) - loop0
            harness = (
                waited_seconds(self.emu.pid, main_only=True) - emu_loop0,
                waited_seconds(os.getpid(), main_only=True) - own_loop0,
            )
            rate_limited = int((await self.client.stats(token))["rate_limited"])
            watched = await asyncio.to_thread(self.watch_read, proc)
            return Run(
                kind,
                len(latencies),
                seconds,
                cpu,
                latencies,
                rate_limited,
                own,
                emu,
                waited,
                loop,
                harness,
                watched,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)

    async def sent(self) -> int:
        return int((await self.client.stats(PAOTUI))["sent"])

    async def burst(self, rt: Runtime) -> None:
        k = self.args.burst
        proc = await asyncio.to_thread(self.spawn, "paotui", None)
        try:
            await asyncio.sleep(1.0)
            await self.client.reset_stats(PAOTUI)
            async with rt.db.session() as s:
                notice = await notices.create(
                    rt, s, DEMO.staff[0][0], notices.COMMUNITY, "c1", "压测通知：请点收到"
                )
            total = notice.recipients + len(DEMO.grids)
            t0 = time.monotonic()
            while await self.sent() < total:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.5)
            print(f"burst: notice to {total} chats delivered in {time.monotonic() - t0:.1f}s")
            targets = await self.received_buttons(k)
            await self.client.reset_stats(PAOTUI)
            await self.press_all(proc, targets)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 60)

    async def received_buttons(self, k: int) -> list[tuple[int, int, str]]:
        """(user, message id, callback data) of the ✅ under each resident's notice."""
        wave = asyncio.Semaphore(self.args.wave)

        async def target(uid: int) -> tuple[int, int, str]:
            async with wave:
                msg = (await self.client.messages(uid, token=PAOTUI))[-1]
            data = next(d for t, d in SandboxClient.buttons(msg) if RECEIVED in t)
            return uid, int(msg["message_id"]), str(data)

        return await asyncio.gather(*(target(u) for u in range(FIRST_UID, FIRST_UID + k)))

    async def press_all(
        self, proc: subprocess.Popen[str], targets: list[tuple[int, int, str]]
    ) -> None:
        """All press ✅ at once (at most ``--wave`` connections at a time); the answers are
        watched with one request every 0.2 s (so each time is up to 0.2 s late). A press the
        emulator refused is counted, not fatal; one never answered in 180 s too."""
        k = len(targets)
        wave = asyncio.Semaphore(self.args.wave)
        pressed: dict[str, float] = {}
        failed = 0
        start = time.monotonic()
        cpu0 = cpu_seconds(proc.pid)

        async def press(uid: int, message_id: int, data: str) -> None:
            nonlocal failed
            async with wave:
                at = time.monotonic()
                try:
                    qid = await self.client.press(uid, uid, message_id, data, token=PAOTUI)
                except (httpx.HTTPError, SandboxError) as exc:
                    failed += 1
                    if failed <= 3:
                        print(f"burst: a press failed: {exc!r}")
                    return
                pressed[qid] = at

        presses = asyncio.gather(*(press(*t) for t in targets))
        answered: dict[str, float] = {}
        deadline = start + 180
        while time.monotonic() < deadline:
            done = presses.done()
            seen = await self.client.callback_answers()
            now = time.monotonic()
            for qid in seen:
                answered.setdefault(qid, now)
            if done and all(q in answered for q in pressed):
                break
            await asyncio.sleep(0.2)
        await presses
        cpu = cpu_seconds(proc.pid) - cpu0
        times = sorted(answered[q] - start for q in pressed if q in answered)
        waits = sorted(answered[q] - pressed[q] for q in pressed if q in answered)
        unanswered = len(pressed) - len(times)
        print(
            f"burst: {k} presses of {RECEIVED} at once ({self.args.wave} connections at a "
            f"time): {len(times)} answered, {unanswered} unanswered in 180s, {failed} presses "
            f"failed; CPU {cpu / k * 1000:.2f} ms/press; "
            f"429s {(await self.client.stats(PAOTUI))['rate_limited']}"
        )
        if times:
            p95 = int(0.95 * len(times))
            print(
                f"burst: answerCallbackQuery p95 {times[p95]:.2f}s from the burst's start "
                f"(max {times[-1]:.2f}s), p95 {waits[p95]:.2f}s from each press"
            )
        await self.buttons_gone(start, k)

    async def buttons_gone(self, start: float, k: int) -> None:
        """The ✅ taken off: wait (up to 300 s more) until the emulator has counted ``k``
        message edits, one per household that confirmed (the bot's outbox sends them after
        the answers, paced)."""
        deadline = time.monotonic() + 300
        edits = 0
        while time.monotonic() < deadline:
            edits = int((await self.client.stats(PAOTUI))["edits"])
            if edits >= k:
                break
            await asyncio.sleep(0.5)
        took = time.monotonic() - start
        print(
            f"burst: {edits} of {k} messages edited (the ✅ taken off) {took:.1f}s after the "
            f"burst's start: {edits / took:.2f}/s"
        )


def report(runs: dict[str, list[Run]]) -> None:
    """The ratios, from the medians of the rounds (and each round's, for the spread)."""
    echo = runs.get("echo", [])
    for kind in [k for k in runs if echo and k != "echo"]:
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


@dataclass
class Emulated:
    """The emulator's process and its URLs."""

    proc: subprocess.Popen[str]
    url: str
    base_url: str
    file_url: str

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_emulator(users: int) -> Emulated:
    cmd = [sys.executable, __file__, "--child", "emulator", "--seed", str(users)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    urls = json.loads(proc.stdout.readline())
    return Emulated(proc, urls["url"], urls["base_url"], urls["file_url"])


async def seed(rt: Runtime, n: int) -> None:
    """The database's side: the demo, and ``n`` residents (the emulator seeds its own)."""
    async with rt.db.session() as s:
        await seed_demo(s, rt.clock)
    await resident_rows(rt, range(FIRST_UID, FIRST_UID + n))


async def run(args: argparse.Namespace, db_path: Path) -> None:
    settings = settings_for(db_path)
    rt = Runtime(settings, Database(settings.database.url), OffsetClock())
    users = max(args.users, args.burst)
    emulator = await asyncio.to_thread(start_emulator, users)
    bench = Bench(args, db_path, emulator)
    try:
        await seed(rt, users)
        kinds = ([] if args.skip_echo else ["echo"]) + ["paotui"]
        kinds += ["before"] if args.compare else []
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
        emulator.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(emulator.proc.wait, 60)
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
    parser.add_argument(
        "--skip-echo", action="store_true", help="no echo bot (with --compare: before/after only)"
    )
    parser.add_argument(
        "--wave", type=int, default=500, help="connections pressing at once (default 500)"
    )
    for hidden in ("--child", "--base-url", "--file-url", "--db", "--seed"):
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
