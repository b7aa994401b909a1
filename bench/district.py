"""Benchmark: a district notice to every household, through several `paotui run` instances on
one PostgreSQL database and one bot per community (issue 14 point 4). Not a test.

    PYTHONPATH=. .venv/bin/python bench/district.py [--communities 10] [--households 10000]
        [--bots 10] [--instances 3] [--time-scale 1]

Starts a throwaway PostgreSQL cluster (tests/postgres.py: initdb + pg_ctl on a loopback port),
the strict emulator in this process (Telegram's limits judged where each request arrives),
seeds by bulk insert ``--communities`` communities (codes C01, C02, ...) of ``--households``
households each and a district admin, and runs ``--instances`` real `paotui run` processes on
it (tests/child_bot.py). With ``--bots N`` > 1 it writes a config with one ``[[bots]]`` entry
per bot (name ``c01``..., token from ``PAOTUI_BOT_C01_TOKEN``, the communities it serves, dealt
round-robin) and, if the schema has a ``chat_bots`` table, maps each household's chat to its
community's bot; with ``--bots 1`` one bot (``PAOTUI_BOT__TOKEN``) serves every community.

The notice is written by the notice service directly (`notices.create`, audience "everyone",
what a district admin's ✅ send runs), from this process; the instances' leader sends it.
Everything is measured on the emulator's side, and printed: the sustained total rate (first to
last delivery) against the total cap (goal >= 0.95 x 30/s x bots), 429s (goal 0), duplicates
and missing households (goal 0 and 0), the time from the notice to the last household, and
each instance's peak RSS (VmHWM from /proc/<pid>/status, goal < 300 MB).

``--time-scale K`` runs Telegram's limits K times faster on both sides (the emulator and the
instances, as the tests do): rates are then printed in emulated seconds. Smaller runs first:
``--communities 2 --households 2000 --bots 1`` takes a couple of minutes at scale 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import column, func, insert, inspect, select, table  # noqa: E402

from bot.clock import OffsetClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.services import notices  # noqa: E402
from handlers.main import TEST_TIME_SCALE_ENV  # noqa: E402
from models import (  # noqa: E402
    Building,
    Community,
    Compound,
    Grid,
    OutboxMessage,
    OutboxStatus,
    Resident,
    Staff,
    StaffRole,
)
from sandbox.emulator import Emulator  # noqa: E402
from tests.child_bot import ChildBot  # noqa: E402
from tests.postgres import TEMPLATE, Cluster, off_the_loop, pg_settings  # noqa: E402

ADMIN = 9100  # the district admin who sends the notice (every community in scope)
HOUSEHOLD_IDS = 10_000_000
PER_BUILDING = 100
CHUNK = 5_000
CAP_PER_BOT = 30.0  # Telegram: about 30 messages a second per bot
TEXT = "各位居民：明日起全区分批核酸检测，请留意本楼栋通知。（区级通知压测）"


def bot_names(bots: int) -> list[str]:
    return [f"c{i + 1:02d}" for i in range(bots)]


def token_of(name: str) -> str:
    return f"{7_000_000_000 + int(name[1:])}:BENCH-{name.upper()}"


def community_codes(communities: int) -> list[str]:
    return [f"C{k + 1:02d}" for k in range(communities)]


def served_by(codes: list[str], bots: int) -> dict[str, str]:
    """Community code -> bot name (round-robin); one bot serves all with --bots 1."""
    names = bot_names(bots)
    return {code: names[i % bots] for i, code in enumerate(codes)}


def write_config(path: Path, codes: list[str], bots: int) -> dict[str, str]:
    """config.example.toml, plus a ``[[bots]]`` entry per bot when there are several; the
    environment the instances need for the tokens."""
    text = (ROOT / "config.example.toml").read_text()
    env: dict[str, str] = {}
    if bots == 1:
        env["PAOTUI_BOT__TOKEN"] = token_of("c01")
    else:
        owner = served_by(codes, bots)
        for name in bot_names(bots):
            var = f"PAOTUI_BOT_{name.upper()}_TOKEN"
            env[var] = token_of(name)
            mine = ", ".join(f'"{c}"' for c in codes if owner[c] == name)
            text += (
                f'\n[[bots]]\nname = "{name}"\ntoken_env = "{var}"\n'
                f'username = "paotui_{name}_bot"\ncommunities = [{mine}]\n'
            )
    path.write_text(text)
    return env


async def seed(rt: Runtime, codes: list[str], households: int, bots: int) -> dict[int, str]:
    """The communities (one grid each, no group chat: the notice goes to households only),
    their buildings and households, the admin; the household -> bot name map."""
    now = rt.clock.now()
    owner = served_by(codes, bots)
    chat_bot: dict[int, str] = {}
    async with rt.db.session() as s:
        s.add(Staff(telegram_id=ADMIN, name="区管理员", role=StaffRole.ADMIN, created_at=now))
        for k, code in enumerate(codes):
            community = Community(code=code, name=f"压测社区{code}", created_at=now)
            s.add(community)
            await s.flush()
            grid = Grid(community_id=community.id, name=f"{code}网格")
            compound = Compound(community_id=community.id, name=f"{code}小区")
            s.add_all([grid, compound])
            await s.flush()
            n_buildings = -(-households // PER_BUILDING)
            await s.execute(
                insert(Building),
                [
                    {
                        "grid_id": grid.id,
                        "compound_id": compound.id,
                        "name": f"{b + 1}栋",
                        "code": f"{code}b{b}",
                        "units": 4,
                    }
                    for b in range(n_buildings)
                ],
            )
            buildings = list(
                await s.scalars(
                    select(Building.id).where(Building.grid_id == grid.id).order_by(Building.id)
                )
            )
            rows = []
            for i in range(households):
                uid = HOUSEHOLD_IDS + k * 1_000_000 + i
                chat_bot[uid] = owner[code]
                rows.append(
                    {
                        "telegram_id": uid,
                        "name": f"居民{uid}",
                        "phone": f"139{uid % 10**8:08d}",
                        "building_id": buildings[i // PER_BUILDING],
                        "unit": str(1 + i % 4),
                        "room": str(101 + i % PER_BUILDING),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            for i in range(0, len(rows), CHUNK):
                await s.execute(insert(Resident), rows[i : i + CHUNK])
        await seed_chat_bots(s, chat_bot)
    return chat_bot


async def seed_chat_bots(s: Any, chat_bot: dict[int, str]) -> None:
    """If the schema maps chats to bots (a ``chat_bots`` table: chat id -> bot name, from the
    one-bot-per-community work), each household's chat to its community's bot."""
    conn = await s.connection()
    tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    if "chat_bots" not in tables:
        print("no chat_bots table: households are not mapped to bots in the database")
        return
    columns = await conn.run_sync(
        lambda c: [col["name"] for col in inspect(c).get_columns("chat_bots")]
    )
    chat_col = next(c for c in columns if "chat" in c)
    bot_col = next(c for c in columns if c != chat_col and "bot" in c)
    t = table("chat_bots", column(chat_col), column(bot_col))
    rows = [{chat_col: uid, bot_col: name} for uid, name in chat_bot.items()]
    for i in range(0, len(rows), CHUNK):
        await s.execute(insert(t), rows[i : i + CHUNK])
    print(f"chat_bots: {len(rows)} households mapped ({chat_col} -> {bot_col})")


def emulate(emu: Emulator, chat_bot: dict[int, str], bots: int) -> None:
    """The bots, and each household a user who has started their community's bot."""
    for name in bot_names(bots):
        emu.register_bot(token_of(name), username=f"paotui_{name}_bot", first_name="跑腿")
    handles = {name: emu.bot(token_of(name)) for name in bot_names(bots)}
    for uid, name in chat_bot.items():
        emu.create_user(uid, first_name=f"居民{uid}")
        emu.private_chat(handles[name], uid).started = True


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def instance_env(
    url: str, config: Path, tokens: dict[str, str], emu: Emulator, scale: float
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")}
    env.update(tokens)
    env.update(
        {
            "PAOTUI_CONFIG": str(config),
            "PAOTUI_BOT__API_BASE_URL": emu.base_url,
            "PAOTUI_BOT__API_FILE_URL": emu.base_file_url,
            # The cluster has no TLS: without this asyncpg builds a TLS context (the CA bundle
            # loaded) for every connection it opens.
            "PAOTUI_DATABASE__URL": f"{url}?ssl=disable",
            "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
            TEST_TIME_SCALE_ENV: str(scale),
        }
    )
    return env


def led(lines: list[str]) -> int:
    """How many bots an instance leads now, from its log (bot.leader, bot.leader_share)."""
    took = sum("this instance leads" in ln for ln in lines)
    return took - sum("gave up a bot's leadership" in ln for ln in lines)


async def unsent(rt: Runtime) -> int:
    async with rt.db.read() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status != OutboxStatus.SENT)
        )
    return int(n or 0)


async def run(args: argparse.Namespace, cluster: Cluster, tmp: Path) -> int:
    codes = community_codes(args.communities)
    name = await cluster.create(TEMPLATE)
    url = cluster.url(name)
    rt = Runtime(pg_settings(url), Database(url), OffsetClock())
    emu = Emulator(strict=True, time_scale=args.time_scale)
    await emu.start()
    children: list[ChildBot] = []
    try:
        t = time.perf_counter()
        chat_bot = await seed(rt, codes, args.households, args.bots)
        emulate(emu, chat_bot, args.bots)
        total = len(chat_bot)
        print(
            f"seeded {total} households in {len(codes)} communities",
            f"in {time.perf_counter() - t:.1f} s",
        )
        tokens = write_config(tmp / "district.toml", codes, args.bots)
        env = instance_env(url, tmp / "district.toml", tokens, emu, args.time_scale)
        for _ in range(args.instances):
            child = ChildBot(env)
            await child.__aenter__()
            children.append(child)
        for child in children:
            await child.wait_line("bot started as", 180)
        print(f"{args.instances} instances started, {args.bots} bot(s)")
        # A running deployment has its bots' leaderships shared out (bot.leader_share): wait
        # for that before the notice, as a district's notice does not come at start-up (a bot
        # handed over mid-broadcast pauses for a second: the new leader's pacer holds).
        t = time.monotonic()
        share = -(-args.bots // args.instances)
        while True:
            leads = [led(c.lines) for c in children]
            if sum(leads) == args.bots and max(leads) <= share:
                break
            if time.monotonic() - t > 120:
                print(f"leaderships not shared out after 120 s: {leads}")
                break
            await asyncio.sleep(0.5)
        print(f"bots led per instance {leads}, shared out {time.monotonic() - t:.1f} s after start")
        await asyncio.sleep(2.0)  # start-up's own calls out of the way
        for bot_name in bot_names(args.bots):
            emu.reset_stats(token_of(bot_name))

        # Every delivery of the notice, as the emulator stores it: (chat, message) -> when.
        arrived: dict[tuple[str, int, int], float] = {}

        def on_change(chat: Any, msg: dict[str, Any] | None) -> None:
            if msg is not None and msg.get("outgoing") and TEXT in (msg.get("text") or ""):
                arrived.setdefault(
                    (chat.bot_token, chat.id, int(msg["message_id"])), time.monotonic()
                )

        emu.listeners.append(on_change)
        t0 = time.monotonic()
        async with rt.db.session() as s:
            notice = await notices.create(rt, s, ADMIN, notices.EVERYONE, "all", TEXT)
        print(
            f"notice #{notice.id} to {notice.recipients} written in {time.monotonic() - t0:.1f} s"
        )
        last_report = time.monotonic()
        while len({chat for _, chat, _ in arrived}) < total:
            await asyncio.sleep(0.2)
            if time.monotonic() - last_report >= 30:
                last_report = time.monotonic()
                print(
                    f"  {len(arrived)}/{total} delivered after {last_report - t0:.0f} s", flush=True
                )
            if time.monotonic() - t0 > args.timeout:
                print(f"gave up after {args.timeout:.0f} s")
                break
        deadline = time.monotonic() + 60
        while await unsent(rt) and time.monotonic() < deadline:  # noqa: ASYNC110  (a query)
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # a duplicate still in flight
        rss = [peak_rss_mb(c.proc.pid) for c in children if c.proc is not None and c.running]
        report(args, emu, chat_bot, arrived, t0, rss, await unsent(rt))
        return 0
    finally:
        for child in children:
            await child.stop()
        await emu.stop()
        await rt.db.dispose()
        await cluster.drop(name)


def report(
    args: argparse.Namespace,
    emu: Emulator,
    chat_bot: dict[int, str],
    arrived: dict[tuple[str, int, int], float],
    t0: float,
    rss: list[float],
    left: int,
) -> None:
    per_chat = Counter((token, chat) for token, chat, _ in arrived)
    expected = {(token_of(b), uid) for uid, b in chat_bot.items()}
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    missing = len(expected - set(per_chat))
    wrong_bot = len(set(per_chat) - expected)
    times = sorted(arrived.values())
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    real = (len(times) - 1) / span if span else float("nan")
    rate = real / args.time_scale  # per emulated second: the seconds Telegram's limits run in
    cap = CAP_PER_BOT * args.bots
    refused: Counter[str] = Counter()
    for name in bot_names(args.bots):
        refused.update(emu.bot(token_of(name)).limiter.refused_ever)
    per_bot = Counter(token for token, _, _ in arrived)
    print(f"households: {len(chat_bot)}, delivered: {len(arrived)}, outbox rows not sent: {left}")
    print(
        f"sustained total rate: {rate:.1f}/s over {span:.1f} s against the cap {cap:.0f}/s "
        f"({rate / cap * 100:.1f}%; goal >= 95%)"
        + (
            f" [emulated seconds, scale {args.time_scale:g}: {real:.1f}/s in real time]"
            if args.time_scale != 1
            else ""
        )
    )
    print(f"429s: {sum(refused.values())} {dict(refused)} (goal 0)")
    print(f"duplicates: {duplicates}, missing: {missing}, from the wrong bot: {wrong_bot}")
    print(f"time from the notice to the last household: {times[-1] - t0:.1f} s" if times else "")
    print(
        "per bot delivered: "
        + ", ".join(f"{n}={per_bot.get(token_of(n), 0)}" for n in bot_names(args.bots))
    )
    print(
        "peak RSS per instance (VmHWM): "
        + ", ".join(f"{r:.0f} MB" for r in rss)
        + " (goal < 300 MB)"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--communities", type=int, default=10)
    p.add_argument("--households", type=int, default=10_000, help="per community")
    p.add_argument("--bots", type=int, default=10)
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=7200.0, help="seconds to wait for delivery")
    args = p.parse_args()
    if not 1 <= args.bots <= args.communities:
        p.error("--bots must be between 1 and --communities")
    if args.bots > 1 and "bots" not in Settings.model_fields:
        p.error("--bots N needs the configuration's [[bots]] (one bot per community)")
    with tempfile.TemporaryDirectory(prefix="paotui-district-") as tmp:
        cluster = Cluster()
        cluster.start()
        try:

            async def go() -> int:
                await cluster.admin(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
                off_the_loop(upgrade, cluster.url(TEMPLATE))
                return await run(args, cluster, Path(tmp))

            code = asyncio.run(go())
        finally:
            cluster.stop()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
