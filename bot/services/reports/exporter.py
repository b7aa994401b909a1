"""The bot's export of the ledger, built in child processes, in parts a chat can carry.

`part_ranges` cuts the days asked for into ranges of whole days small enough for one file each
(by a count of the orders and events first: a month of a district's ledger is ~1.8 million
rows, over 100 MB, and Telegram carries at most 50 MB per document); `export_parts` builds the
parts in up to `WORKERS` spawned child processes at once and yields them in order of their
days as each is ready. Each child opens the same database, reads the rows of the scope and its
days, builds the sheets and writes the workbook and the CSV, and hands back only the files'
bytes: the bot's event loop (and its GIL) stays free meanwhile. `export` is the whole range as
one part (the command line and the tests)."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncGenerator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import Database
from bot.i18n import DEFAULT_LANGUAGE, gettext_for
from bot.services.reports.days import day_bounds
from bot.services.reports.files import csv_bytes, workbook_bytes
from bot.services.reports.sheets.book import build_sheets
from bot.services.reports.sheets.data import LedgerData, ledger_data
from bot.services.scope import Scope, grid_ids
from models import Order, OrderEvent

# Rows (orders and order events) one part holds at most: ~70 bytes each in the workbook
# (deflated) and ~250 per order in the CSV, so a part stays well under Telegram's 50 MB.
ROWS_PER_PART = 400_000
# Parts built at once, each in its own process (the machine's cores, at most this many).
WORKERS = 2


@dataclass(frozen=True)
class Export:
    xlsx: bytes
    csv: bytes
    orders: int


@dataclass(frozen=True)
class Part:
    """One part of an export: its days, its files, and how many parts there are in all."""

    day_from: date
    day_to: date
    files: Export
    number: int
    of: int


def export_files(data: LedgerData, language: str = DEFAULT_LANGUAGE) -> Export:
    """The workbook and the orders' CSV, in ``language``, built from what was read. CPU-bound
    and pure."""
    sheets = build_sheets(data, gettext_for(language))
    return Export(workbook_bytes(sheets), csv_bytes(sheets[0]), len(sheets[0].rows))


async def _read(url: str, scope: Scope, day_from: date, day_to: date, tz: str) -> LedgerData:
    db = Database(url)
    try:
        async with db.read() as session:
            return await ledger_data(session, scope, day_from, day_to, tz)
    finally:
        await db.dispose()


def export_in_this_process(
    url: str,
    scope: Scope,
    day_from: date,
    day_to: date,
    tz: str,
    language: str = DEFAULT_LANGUAGE,
) -> Export:
    """The ledger's files, read from the database at ``url`` and built here (the child), in
    ``language``."""
    read: list[LedgerData] = []

    async def read_into() -> None:
        # Not returned from the coroutine: asyncio.run (Python 3.11) formats its task's repr,
        # result included, when it restores the SIGINT handler, twice; for a month's rows
        # that is seconds of CPU and a copy of them.
        read.append(await _read(url, scope, day_from, day_to, tz))

    asyncio.run(read_into())
    return export_files(read.pop(), language)


def database_url(session: AsyncSession) -> str:
    """The URL of the database a session reads (its password included: the child connects)."""
    bind = session.bind
    if bind is None:
        raise ValueError("the session is bound to no database")
    engine = bind if isinstance(bind, AsyncEngine) else bind.engine
    return engine.url.render_as_string(hide_password=False)


async def _rows_in(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> int:
    """About how many rows the ledger of these days has: the scope's orders created in them,
    and every order event in them (an upper bound for a scope short of the whole district:
    joining the events to their orders' grids would cost more than the count is worth)."""
    start, end = day_bounds(day_from, day_to, tz)
    grids = await grid_ids(session, scope)
    orders = await session.scalar(
        select(func.count()).where(
            Order.grid_id.in_(grids), Order.created_at >= start, Order.created_at < end
        )
    )
    events = await session.scalar(
        select(func.count()).where(OrderEvent.at >= start, OrderEvent.at < end)
    )
    return int(orders or 0) + int(events or 0)


def split_days(day_from: date, day_to: date, rows: int, per_part: int) -> list[tuple[date, date]]:
    """The days cut into consecutive ranges of whole days, as many days in each as
    ``per_part`` rows allow when ``rows`` are spread evenly over them (the last range may be
    shorter); the whole range when it fits, single days at the least."""
    days = (day_to - day_from).days + 1
    if rows <= per_part:
        return [(day_from, day_to)]
    each = max(1, days * per_part // rows)
    out = []
    first = day_from
    while first <= day_to:
        last = min(day_to, first + timedelta(days=each - 1))
        out.append((first, last))
        first = last + timedelta(days=1)
    return out


def _pool(workers: int) -> ProcessPoolExecutor:
    # spawn: a fresh interpreter (forking a process that runs threads and an event loop is not
    # safe); it imports what it needs, ~1 s, against the minutes it saves. Like any spawned
    # child it imports the parent's main script first: `paotui` (the console script) and a
    # script under `if __name__ == "__main__":` are fine.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


async def part_ranges(
    session: AsyncSession,
    scope: Scope,
    day_from: date,
    day_to: date,
    tz: str,
    rows_per_part: int | None = None,
) -> list[tuple[date, date]]:
    """The ranges of days the ledger of a scope is exported in (one if it fits; at most
    ``rows_per_part``, by default `ROWS_PER_PART`, rows in each)."""
    rows = await _rows_in(session, scope, day_from, day_to, tz)
    return split_days(day_from, day_to, rows, rows_per_part or ROWS_PER_PART)


async def export_parts(
    url: str,
    scope: Scope,
    ranges: list[tuple[date, date]],
    tz: str,
    language: str = DEFAULT_LANGUAGE,
) -> AsyncGenerator[Part, None]:
    """The ledger's files for a scope in ``language`` (the staff member's), one part per range
    of days (`part_ranges`), each built in a child process reading the database at ``url``
    (`database_url`: what is committed there), up to `WORKERS` at once; yielded in order of
    their days, each as soon as it and those before it are ready. Closing the iterator early
    begins no more parts (those being built finish in their processes, unread)."""
    workers = max(1, min(WORKERS, len(ranges), os.cpu_count() or 1))
    pool = _pool(workers)
    todo = iter(enumerate(ranges, 1))
    # At most `workers` parts being built (or built, waiting their turn) and the one being
    # sent: the next part is begun when one is handed on. A district's month is five parts of
    # ~40 MB each, which the bot would otherwise hold all at once while Telegram takes them.
    building: deque[tuple[int, date, date, Future[Export]]] = deque()

    def start_next() -> None:
        for number, (first, last) in itertools.islice(todo, 1):
            future = pool.submit(export_in_this_process, url, scope, first, last, tz, language)
            building.append((number, first, last, future))

    try:
        for _ in range(workers):
            start_next()
        while building:
            number, first, last, future = building.popleft()
            files = await asyncio.wrap_future(future)
            start_next()
            yield Part(first, last, files, number, len(ranges))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def export(
    session: AsyncSession,
    scope: Scope,
    day_from: date,
    day_to: date,
    tz: str,
    language: str = DEFAULT_LANGUAGE,
) -> Export:
    """The ledger's files for a scope and local days as one part, built in a child process
    that reads the database ``session`` is bound to (what is committed there)."""
    url = database_url(session)
    pool = _pool(1)
    try:
        return await asyncio.get_running_loop().run_in_executor(
            pool, export_in_this_process, url, scope, day_from, day_to, tz, language
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
