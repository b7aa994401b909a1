"""The bot's export of the ledger, built in a child process: it opens the same database, reads
the rows of the scope and days, builds the sheets and writes the workbook and the CSV, and
hands back only the files' bytes. The bot's event loop (and its GIL) stays free meanwhile: a
month of a district's ledger is millions of cells, minutes of CPU in a worker thread that
took the GIL from the loop for hundreds of milliseconds at a time."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import Database
from bot.services.reports.files import csv_bytes, workbook_bytes
from bot.services.reports.sheets.book import build_sheets
from bot.services.reports.sheets.data import LedgerData, ledger_data
from bot.services.scope import Scope


@dataclass(frozen=True)
class Export:
    xlsx: bytes
    csv: bytes
    orders: int


def export_files(data: LedgerData) -> Export:
    """The workbook and the orders' CSV, built from what was read. CPU-bound and pure."""
    sheets = build_sheets(data)
    return Export(workbook_bytes(sheets), csv_bytes(sheets[0]), len(sheets[0].rows))


async def _read_and_build(url: str, scope: Scope, day_from: date, day_to: date, tz: str) -> Export:
    db = Database(url)
    try:
        async with db.read() as session:
            data = await ledger_data(session, scope, day_from, day_to, tz)
    finally:
        await db.dispose()
    return export_files(data)


def export_in_this_process(url: str, scope: Scope, day_from: date, day_to: date, tz: str) -> Export:
    """The ledger's files, read from the database at ``url`` and built here (the child)."""
    return asyncio.run(_read_and_build(url, scope, day_from, day_to, tz))


def _url(session: AsyncSession) -> str:
    """The URL of the database a session reads (its password included: the child connects)."""
    bind = session.bind
    if bind is None:
        raise ValueError("the session is bound to no database")
    engine = bind if isinstance(bind, AsyncEngine) else bind.engine
    return engine.url.render_as_string(hide_password=False)


async def export(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> Export:
    """The ledger's files for a scope and local days, built in a child process that reads the
    database ``session`` is bound to (what is committed there)."""
    # spawn: a fresh interpreter (forking a process that runs threads and an event loop is not
    # safe); it imports what it needs, ~1 s, against the minutes it saves. Like any spawned
    # child it imports the parent's main script first: `paotui` (the console script) and a
    # script under `if __name__ == "__main__":` are fine.
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await asyncio.get_running_loop().run_in_executor(
            pool, export_in_this_process, _url(session), scope, day_from, day_to, tz
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
