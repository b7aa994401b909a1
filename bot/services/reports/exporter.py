"""The bot's export of the ledger: the rows are read in the event loop (async, in partitions),
the sheets and files are built in a worker thread, so the bot keeps answering everyone else
meanwhile (openpyxl takes tens of seconds for 20,000 orders)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

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
    """The workbook and the orders' CSV, built from what was read. CPU-bound and pure: run it
    in a worker thread (`export`)."""
    sheets = build_sheets(data)
    return Export(workbook_bytes(sheets), csv_bytes(sheets[0]), len(sheets[0].rows))


async def export(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> Export:
    """The ledger's files for a scope and local days."""
    data = await ledger_data(session, scope, day_from, day_to, tz)
    return await asyncio.to_thread(export_files, data)
