"""Benchmark: the ledger export (/export) of N orders, and how long it holds the event loop.

    .venv/bin/python bench/export.py [--orders 20000] [--in-loop]

Seeds the demo community and N orders (each with its events: created, and for most claimed
and delivered) in a temporary SQLite file, then exports the day's ledger for the community's
staff as the bot does (rows read async in partitions, the workbook built in a worker thread)
while a ticker task measures the event loop's longest stall. `--in-loop` builds the workbook
on the event loop instead, as the bot did before (for comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.stall import LongestStall  # noqa: E402
from bot.clock import OffsetClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.seed import DEMO, seed_demo  # noqa: E402
from bot.services import reports  # noqa: E402
from bot.services.scope import require_staff  # noqa: E402
from models import Building, Grid, Order, OrderEvent, Resident, Volunteer  # noqa: E402

STAFF = DEMO.staff[0][0]  # the demo community's staff member


async def seed_orders(rt: Runtime, n: int) -> None:
    """N orders of today (on the runtime's clock) in the demo community's grids, with their
    events: all created, two in three claimed, one in three delivered with an amount."""
    now = rt.clock.now()
    async with rt.db.session() as s:
        buildings = list(
            (await s.execute(select(Building.id, Building.grid_id).order_by(Building.id))).all()
        )
        vols = list((await s.execute(select(Volunteer.id, Volunteer.telegram_id))).all())
        resident = Resident(
            telegram_id=7_000_000,
            name="周阿姨",
            phone="13800001001",
            building_id=buildings[0][0],
            unit="3",
            room="502",
            created_at=now,
            updated_at=now,
        )
        s.add(resident)
        await s.flush()
        communities = dict((await s.execute(select(Grid.id, Grid.community_id))).all())
        first = int(await s.scalar(select(Order.id).order_by(Order.id.desc()).limit(1)) or 0) + 1
        rows, events = [], []
        for i in range(n):
            bid, gid = buildings[i % len(buildings)]
            vid, vtid = vols[i % len(vols)]
            claimed = i % 3 != 0
            delivered = i % 3 == 2
            oid = first + i
            rows.append(
                {
                    "id": oid,
                    "resident_id": resident.id,
                    "community_id": communities[gid],
                    "grid_id": gid,
                    "building_id": bid,
                    "unit": str(1 + i % 4),
                    "room": str(101 + i % 600),
                    "contact_name": f"居民{i}",
                    "contact_phone": f"138{i:08d}",
                    "category": ("groceries", "medicine", "gas", "other")[i % 4],
                    "description": f"第{i}单：鸡蛋一盒，青菜两斤，牛奶一箱",
                    "urgency": "normal",
                    "details": {},
                    "status": "delivered" if delivered else "claimed" if claimed else "open",
                    "volunteer_id": vid if claimed else None,
                    "amount_spent_fen": 3550 if delivered else None,
                    "created_at": now,
                    "updated_at": now,
                    "claimed_at": now if claimed else None,
                    "delivered_at": now if delivered else None,
                }
            )
            events.append({"order_id": oid, "actor": "resident", "to_status": "open", "at": now})
            if claimed:
                events.append(
                    {
                        "order_id": oid,
                        "actor": "volunteer",
                        "actor_telegram_id": vtid,
                        "from_status": "open",
                        "to_status": "claimed",
                        "at": now,
                    }
                )
            if delivered:
                events.append(
                    {
                        "order_id": oid,
                        "actor": "volunteer",
                        "actor_telegram_id": vtid,
                        "from_status": "claimed",
                        "to_status": "delivered",
                        "at": now,
                    }
                )
        await s.execute(insert(Order), rows)
        await s.execute(insert(OrderEvent), events)


async def measure_export(rt: Runtime, *, in_loop: bool = False) -> tuple[float, float, int]:
    """Export today's ledger for the demo staff while a ticker watches the event loop:
    (wall seconds, the loop's longest stall in seconds, the workbook's size in bytes)."""
    day = rt.today()
    async with LongestStall() as meter:
        start = time.perf_counter()
        async with rt.db.read() as s:
            scope = await require_staff(s, STAFF)
            if in_loop:  # as before: everything on the event loop
                data = await reports.ledger_data(s, scope, day, day, rt.timezone)
                files = reports.export_files(data)
            else:
                files = await reports.export(s, scope, day, day, rt.timezone)
        wall = time.perf_counter() - start
    stall = meter.seconds
    return wall, stall, len(files.xlsx)


async def run(n: int, in_loop: bool, tmp: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp / 'paotui.db'}"
    settings = load_settings(ROOT / "config.example.toml", database={"url": url})
    db = Database(url)
    rt = Runtime(settings, db, OffsetClock())
    try:
        async with db.session() as s:
            await seed_demo(s, rt.clock)
        t = time.perf_counter()
        await seed_orders(rt, n)
        print(f"seeded {n} orders in {time.perf_counter() - t:.1f} s")
        wall, stall, size = await measure_export(rt, in_loop=in_loop)
        where = "on the event loop" if in_loop else "in a worker thread"
        print(
            f"export of {n} orders ({where}): {wall:.1f} s wall, workbook {size / 1e6:.1f} MB, "
            f"longest event-loop stall {stall * 1000:.0f} ms"
        )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--in-loop", action="store_true", help="build on the loop (as before)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="paotui-bench-"))
    try:
        upgrade(f"sqlite+aiosqlite:///{tmp / 'paotui.db'}")  # runs its own event loop
        asyncio.run(run(args.orders, args.in_loop, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
