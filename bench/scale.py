"""Benchmark: paotui at district scale on one machine.

    .venv/bin/python bench/scale.py [--households 100000] [--volunteers 500]
        [--orders-per-day 10000] [--days 30] [--database-url URL]

Builds a database (bulk INSERTs through SQLAlchemy Core, in a child process so that its memory
is not counted as the bot's): the demo community and two more, many grids, compounds and
buildings, the households spread over them, approved volunteers, and N orders a day for D days
with realistic statuses, an order_events row per transition, some problems and ratings. Then
starts the emulator and the real BotService on it (as bench/notice.py does) and prints, each
with the event loop's longest stall while it ran (goal < 100 ms):

- bot RSS (goal < 200 MB; the process also holds the emulator, whose own RSS is printed first),
- /stats for today and for the whole period, for an admin (every community), through the real
  handler until its reply arrives (goal < 2 s),
- /export of the period (a month at full size) until the last part's CSV arrives (goal < 30 s;
  a month of a district comes in parts of a few days each, see `reports.part_ranges`),
- a notice to every household: `notices.create` (what the staff's press runs) until the
  outbox rows are written, not their delivery (goal < 10 s).

A 10x smaller smoke run: --households 10000 --volunteers 50 --orders-per-day 1000 --days 3.
Seeding a full-size month takes ~10 minutes: `--keep FILE` seeds into a SQLite file and keeps
it, `--reuse FILE` measures on a fresh copy of it (the days are the local days before the seed
run, so reuse it the same day); `--only stats,export,notice` picks what to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bench.emulated import TOKEN, bot, emulated  # noqa: E402
from bench.stall import LongestStall  # noqa: E402
from bot.clock import OffsetClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.seed import seed_demo  # noqa: E402
from bot.services import notices  # noqa: E402
from models import (  # noqa: E402
    Building,
    Community,
    Compound,
    Grid,
    Order,
    OrderEvent,
    OrderProblem,
    OutboxMessage,
    Resident,
    Staff,
    StaffRole,
    Volunteer,
    VolunteerStatus,
)

ADMIN = 9100  # an admin: every community is in scope (the worst case for reports)
RESIDENT_IDS = 10_000_000
VOLUNTEER_IDS = 20_000_000
HOUSEHOLDS_PER_BUILDING = 100
BUILDINGS_PER_COMPOUND = 10
GRIDS_PER_COMMUNITY = 10
CHUNK = 5_000


def _settings(url: str) -> Any:
    return load_settings(
        ROOT / "config.example.toml", database={"url": url}, bot={"poll_timeout": 2}
    )


async def _bulk(s: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await s.execute(insert(model), rows[i : i + CHUNK])


async def _places(rt: Runtime, households: int) -> list[tuple[int, int, int]]:
    """Communities, grids, compounds, buildings; the buildings as (id, grid, community)."""
    now = rt.clock.now()
    n_buildings = max(1, -(-households // HOUSEHOLDS_PER_BUILDING))
    async with rt.db.session() as s:
        await seed_demo(s, rt.clock)
        for k in (2, 3):
            s.add(Community(code=f"bench{k}", name=f"压测社区{k}", created_at=now))
        await s.flush()
        communities = list((await s.scalars(select(Community.id).order_by(Community.id))).all())
        for c in communities:
            have = await s.scalar(select(func.count()).where(Grid.community_id == c)) or 0
            for g in range(have, GRIDS_PER_COMMUNITY):
                s.add(Grid(community_id=c, name=f"网格{c}-{g + 1}"))
        await s.flush()
        grids = list((await s.execute(select(Grid.id, Grid.community_id).order_by(Grid.id))).all())
        compounds: list[tuple[int, int, int]] = []  # (compound, grid, community)
        for i in range(-(-n_buildings // BUILDINGS_PER_COMPOUND)):
            gid, cid = grids[i % len(grids)]
            c = Compound(community_id=cid, name=f"小区{i + 1}")
            s.add(c)
            await s.flush()
            compounds.append((c.id, gid, cid))
        rows = [
            {
                "grid_id": compounds[i // BUILDINGS_PER_COMPOUND][1],
                "compound_id": compounds[i // BUILDINGS_PER_COMPOUND][0],
                "name": f"{i % BUILDINGS_PER_COMPOUND + 1}栋",
                "code": f"bb{i}",
                "units": 4,
            }
            for i in range(n_buildings)
        ]
        await _bulk(s, Building, rows)
        s.add(Staff(telegram_id=ADMIN, name="区管理员", role=StaffRole.ADMIN, created_at=now))
    async with rt.db.read() as s:
        q = (
            select(Building.id, Building.grid_id, Grid.community_id)
            .join(Grid, Grid.id == Building.grid_id)
            .where(Building.code.like("bb%"))
            .order_by(Building.id)
        )
        return [(b, g, c) for b, g, c in (await s.execute(q)).all()]


# (final status, the chain of statuses from open, weight) for days before today.
PATHS: list[tuple[list[str], int]] = [
    (["open", "claimed", "purchasing", "delivering", "delivered", "confirmed"], 70),
    (["open", "claimed", "purchasing", "delivering", "delivered"], 10),
    (["open", "cancelled"], 8),
    (["open", "claimed", "cancelled"], 4),
    (["open", "claimed", "unfulfillable"], 4),
    (["open", "unfulfillable"], 4),
]
TODAY_PATHS = [
    *PATHS,
    (["open"], 20),
    (["open", "claimed"], 10),
    (["open", "claimed", "purchasing"], 5),
    (["open", "claimed", "purchasing", "delivering"], 5),
]
CATEGORIES = ("groceries", "medicine", "gas", "other")


async def seed(url: str, households: int, volunteers: int, per_day: int, days: int) -> None:
    """The whole database, on the runtime's clock (orders of the last `days` local days)."""
    db = Database(url)
    rt = Runtime(_settings(url), db, OffsetClock())
    rng = random.Random(13)
    t0 = time.perf_counter()
    try:
        buildings = await _places(rt, households)
        now = rt.clock.now()
        residents = [
            {
                "telegram_id": RESIDENT_IDS + i,
                "name": f"居民{i}",
                "phone": f"139{i:08d}",
                "building_id": buildings[i // HOUSEHOLDS_PER_BUILDING][0],
                "unit": str(1 + i % 4),
                "room": str(101 + i % 25),
                "created_at": now - timedelta(days=days + 1),
                "updated_at": now - timedelta(days=days + 1),
            }
            for i in range(households)
        ]
        grids = sorted({g for _, g, _ in buildings})
        vols = [
            {
                "telegram_id": VOLUNTEER_IDS + i,
                "name": f"志愿者{i}",
                "phone": f"137{i:08d}",
                "grid_id": grids[i % len(grids)],
                "status": VolunteerStatus.APPROVED,
                "created_at": now - timedelta(days=days + 1),
            }
            for i in range(volunteers)
        ]
        async with db.session() as s:
            await _bulk(s, Resident, residents)
            await _bulk(s, Volunteer, vols)
        async with db.read() as s:
            rid0 = int(
                await s.scalar(
                    select(func.min(Resident.id)).where(Resident.telegram_id >= RESIDENT_IDS)
                )
                or 0
            )
            by_grid: dict[int, list[tuple[int, int]]] = {}
            for vid, gid, vtid in (
                await s.execute(select(Volunteer.id, Volunteer.grid_id, Volunteer.telegram_id))
            ).all():
                by_grid.setdefault(gid, []).append((vid, vtid))
        print(
            f"  places, {households} households, {volunteers} volunteers: "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        tz = ZoneInfo(rt.timezone)
        today = now.astimezone(tz).date()
        oid = 0
        for d in range(days - 1, -1, -1):
            day = today - timedelta(days=d)
            start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
            span = min(86_400.0, (now - start).total_seconds() - 3600) if d == 0 else 86_400.0
            paths = TODAY_PATHS if d == 0 else PATHS
            chains = rng.choices([p for p, _ in paths], [w for _, w in paths], k=per_day)
            orders: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            problems: list[dict[str, Any]] = []
            for chain in chains:
                oid += 1
                h = rng.randrange(households)
                bid, gid, cid = buildings[h // HOUSEHOLDS_PER_BUILDING]
                vid, vtid = rng.choice(by_grid.get(gid) or [(None, None)])
                at = start + timedelta(seconds=rng.uniform(0, max(60.0, span)))
                times = {"open": at}
                for prev, st in itertools.pairwise(chain):
                    times[st] = times[prev] + timedelta(minutes=rng.uniform(2, 40))
                final = chain[-1]
                claimed = "claimed" in chain
                last = times[final]
                orders.append(
                    {
                        "id": oid,
                        "resident_id": rid0 + h,
                        "community_id": cid,
                        "grid_id": gid,
                        "building_id": bid,
                        "unit": str(1 + h % 4),
                        "room": str(101 + h % 25),
                        "contact_name": f"居民{h}",
                        "contact_phone": f"139{h:08d}",
                        "category": CATEGORIES[oid % 4],
                        "description": f"第{oid}单：鸡蛋一盒，青菜两斤，牛奶一箱",
                        "urgency": "urgent" if oid % 17 == 0 else "normal",
                        "details": {},
                        "status": final,
                        "volunteer_id": vid if claimed and final != "open" else None,
                        "amount_spent_fen": rng.randrange(500, 20_000)
                        if "delivered" in chain
                        else None,
                        "rating": rng.choice((3, 4, 5, 5, 5))
                        if final == "confirmed" and oid % 2
                        else None,
                        "reason": "买不到" if final in ("cancelled", "unfulfillable") else None,
                        "created_at": at,
                        "updated_at": last,
                        "claimed_at": times.get("claimed"),
                        "delivered_at": times.get("delivered"),
                        "closed_at": last
                        if final in ("confirmed", "cancelled", "unfulfillable")
                        else None,
                    }
                )
                for prev, st in zip([None, *chain], chain, strict=False):
                    volunteer = (
                        st in ("claimed", "purchasing", "delivering", "delivered", "unfulfillable")
                        and claimed
                    )
                    events.append(
                        {
                            "order_id": oid,
                            "actor": "volunteer" if volunteer else "resident",
                            "actor_telegram_id": vtid if volunteer else RESIDENT_IDS + h,
                            "from_status": prev,
                            "to_status": st,
                            "at": times[st],
                        }
                    )
                if "delivered" in chain and oid % 50 == 0:
                    problems.append(
                        {
                            "order_id": oid,
                            "kind": ("missing", "wrong", "damaged", "other")[oid % 4],
                            "text": "少了一盒鸡蛋",
                            "reporter_telegram_id": RESIDENT_IDS + h,
                            "at": times["delivered"] + timedelta(minutes=5),
                        }
                    )
            async with db.session() as s:
                await _bulk(s, Order, orders)
                await _bulk(s, OrderEvent, events)
                await _bulk(s, OrderProblem, problems)
        print(f"  {per_day * days} orders: {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        await db.dispose()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _timed(
    label: str, goal: float, work: Callable[[], Awaitable[str]]
) -> tuple[float, float]:
    async with LongestStall() as meter:
        t = time.perf_counter()
        extra = await work()
        wall = time.perf_counter() - t
    ok = wall < goal and meter.seconds < 0.1
    print(
        f"{label}: {wall:.2f} s (goal < {goal:g} s), longest stall {meter.seconds * 1000:.0f} ms"
        f" (goal < 100 ms){extra}  {'MET' if ok else 'NOT MET'}",
        flush=True,
    )
    return wall, meter.seconds


async def measure(url: str, households: int, days: int, only: set[str]) -> None:
    settings = _settings(url)
    async with emulated(settings) as (rt, emu):
        db = rt.db
        emu.create_user(ADMIN, first_name="区管理员")
        emu.private_chat(emu.bot(TOKEN), ADMIN).started = True
        before = _rss_mb()
        async with bot(rt, emu):
            seen = 0
            # The bot's pacer sends at most one message per private chat per interval (Telegram's
            # ~1/s): a command sent right after the previous reply has its reply held until the
            # interval has passed, which is Telegram's limit, not the bot's work. The bench waits
            # it out (`paced`, not timed) before it sends the next command, so only the work is
            # timed.
            interval = settings.outbox.private_interval_seconds
            last_reply = 0.0

            async def paced() -> None:
                await asyncio.sleep(max(0.0, last_reply + interval + 0.05 - time.monotonic()))

            async def command(
                text: str, match: Callable[[dict[str, Any]], bool], timeout: float
            ) -> dict[str, Any]:
                nonlocal seen, last_reply
                emu.send_text(ADMIN, text)
                msg: dict[str, Any] = await emu.wait_for(
                    ADMIN, match, timeout, after_message_id=seen
                )
                seen = max(seen, msg["message_id"])
                last_reply = time.monotonic()
                return msg

            def csv_file(m: dict[str, Any]) -> bool:
                doc = m.get("document") if m["outgoing"] else None
                return bool(doc and doc["file_name"].endswith(".csv"))

            today = rt.today()
            first = today - timedelta(days=days - 1)

            def stats_reply(m: dict[str, Any]) -> bool:
                return bool(m["outgoing"] and (m.get("text") or "").startswith("📊"))

            async def stats(day_from: date) -> str:
                # Through the real handler, until its reply arrives in the admin's chat.
                msg = await command(
                    f"/stats {day_from.isoformat()} {today.isoformat()}", stats_reply, 600
                )
                return f", reply {len(msg['text'])} characters: {msg['text'].splitlines()[0]}"

            async def stats_today() -> str:
                return await stats(today)

            async def stats_all() -> str:
                return await stats(first)

            def last_csv(m: dict[str, Any]) -> bool:
                # The export comes in parts of whole days, in order: the last part ends today.
                return csv_file(m) and m["document"]["file_name"].endswith(
                    f"{today.isoformat()}.csv"
                )

            async def export() -> str:
                since = seen
                await command(f"/export {first.isoformat()} {today.isoformat()}", last_csv, 600)
                docs = [
                    m["document"]
                    for m in emu.messages(ADMIN)
                    if m["outgoing"] and m.get("document") and m["message_id"] > since
                ]
                sizes = ", ".join(
                    f"{d['file_name']} {d.get('file_size', 0) / 1e6:.1f} MB" for d in docs[-12:]
                )
                return f", {len(docs)} files: {sizes}"

            async def notice() -> str:
                async with db.session() as s:
                    n = await notices.create(
                        rt, s, ADMIN, notices.EVERYONE, "all", "致全体居民（压测）"
                    )
                async with db.read() as s:
                    rows = await s.scalar(select(func.count()).select_from(OutboxMessage))
                return f", {n.recipients} recipients, {rows} outbox rows"

            await stats(today)  # warm-up: imports, caches
            if "stats" in only:
                await paced()
                await _timed("/stats today", 2, stats_today)
                await paced()
                await _timed(f"/stats {days} days", 2, stats_all)
            if "export" in only:
                await paced()
                await _timed(f"/export {days} days (until the CSV arrives)", 30, export)
            rss = _rss_mb()
            if "notice" in only:
                await _timed(
                    f"notice to all {households} households (outbox rows written)", 10, notice
                )
            after = _rss_mb()
            print(
                f"RSS: {before:.0f} MB before the bot started (emulator, imports), {rss:.0f} MB "
                f"after the reports, {after:.0f} MB after the notice; the bot's own share "
                f"{after - before:.0f} MB (goal < 200 MB: "
                f"{'MET' if after - before < 200 else 'NOT'}; the whole process {after:.0f} MB)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--volunteers", type=int, default=500)
    parser.add_argument("--orders-per-day", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://... (an empty database)")
    parser.add_argument("--skip-export", action="store_true", help="(it takes minutes)")
    parser.add_argument(
        "--only", default="stats,export,notice", help="what to measure (comma-separated)"
    )
    parser.add_argument("--keep", type=Path, help="seed into this SQLite file and keep it")
    parser.add_argument(
        "--reuse", type=Path, help="measure on a copy of this SQLite file (seeded with --keep)"
    )
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure-only", action="store_true", help="reuse --database-url's data")
    a = parser.parse_args()
    if a.seed_only:
        asyncio.run(seed(a.database_url, a.households, a.volunteers, a.orders_per_day, a.days))
        return
    only = set(a.only.split(",")) - ({"export"} if a.skip_export else set())
    tmp = Path(tempfile.mkdtemp(prefix="paotui-scale-"))
    url = a.database_url or f"sqlite+aiosqlite:///{tmp / 'paotui.db'}"
    if a.keep:
        url = f"sqlite+aiosqlite:///{a.keep.resolve()}"
    if a.reuse:  # a copy: the notice's rows and the export's audit entry are not kept
        shutil.copyfile(a.reuse, tmp / "paotui.db")
        # A new emulator numbers its updates from 1 again: the bot would take them for
        # updates it has already handled.
        with sqlite3.connect(tmp / "paotui.db") as con:
            con.execute("DELETE FROM inbox")
    try:
        t = time.perf_counter()
        if not a.measure_only and not a.reuse:
            upgrade(url)
            print(f"seeding {url} ...", flush=True)
            args = [sys.executable, __file__, "--seed-only", "--database-url", url]
            sizes = ["--households", a.households, "--volunteers", a.volunteers]
            sizes += ["--orders-per-day", a.orders_per_day, "--days", a.days]
            subprocess.run([*args, *map(str, sizes)], check=True)
            print(f"seeded in {time.perf_counter() - t:.0f} s", flush=True)
        asyncio.run(measure(url, a.households, a.days, only))
        print(f"whole run: {time.perf_counter() - t:.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
