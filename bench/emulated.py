"""The bot run against the emulator, for the benchmarks: `emulated` (a runtime on the database
of some settings and a started emulator with the demo's people and the bench bot, both closed
again at the end), `bot` (the real BotService polling that emulator, stopped at the end) and
`residents` (Telegram ids made residents of the demo community, on both sides: a user who has
started the bot in the emulator and a row in the database). bench/notice.py, bench/pacing.py
and bench/scale.py start the bot this way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert

from bot.clock import OffsetClock
from bot.db import Database
from bot.runtime import Runtime
from bot.seed import DEMO
from handlers.main import populate_emulator
from handlers.runner import BotService
from models import Resident
from sandbox.emulator import Emulator

TOKEN = "100000001:BENCH-TOKEN"


@asynccontextmanager
async def emulated(
    settings: Any, *, strict: bool = False
) -> AsyncIterator[tuple[Runtime, Emulator]]:
    """A runtime on the settings' database and a started emulator (strict: Telegram's limits
    judged where requests arrive) with the bench bot and the demo's people; both closed when
    the block ends."""
    db = Database(settings.database.url)
    rt = Runtime(settings, db, OffsetClock())
    emu = Emulator(strict=strict)
    await emu.start()
    try:
        populate_emulator(emu, TOKEN)
        yield rt, emu
    finally:
        await emu.stop()
        await db.dispose()


@asynccontextmanager
async def bot(rt: Runtime, emu: Emulator) -> AsyncIterator[BotService]:
    """The real bot polling the emulator, its start-up calls out of the way; stopped when the
    block ends."""
    service = BotService(rt, token=TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url)
    await service.start()
    try:
        await asyncio.sleep(1.0)
        yield service
    finally:
        await service.stop()


async def residents(rt: Runtime, emu: Emulator, ids: Sequence[int], phone: str = "138") -> None:
    """These Telegram ids as residents of the demo community, spread over its buildings: each
    a user of the emulator who has started the bot, and a row in the database (phone
    ``phone`` and the id's last eight digits)."""
    chat_bot = emu.bot(TOKEN)
    for uid in ids:
        emu.create_user(uid, first_name=f"居民{uid}")
        emu.private_chat(chat_bot, uid).started = True
    await resident_rows(rt, ids, phone)


async def resident_rows(rt: Runtime, ids: Sequence[int], phone: str = "138") -> None:
    """The database's side of ``residents``: a row per id, spread over the demo's buildings."""
    buildings = sum(len(g.buildings) for g in DEMO.grids)
    now = rt.clock.now()
    rows = [
        {
            "telegram_id": uid,
            "name": f"居民{uid}",
            "phone": f"{phone}{uid % 10**8:08d}",
            "building_id": 1 + i % buildings,
            "unit": "1",
            "room": str(100 + i % 900),
            "created_at": now,
            "updated_at": now,
        }
        for i, uid in enumerate(ids)
    ]
    async with rt.db.session() as s:
        for i in range(0, len(rows), 2000):
            await s.execute(insert(Resident), rows[i : i + 2000])
