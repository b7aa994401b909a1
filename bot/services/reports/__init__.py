"""What is going on, and the ledger (台账): /stats, the daily summary to staff, and the export.

No Telegram types. Days are local days in the configured time zone; times are stored in UTC.
Each concern is a module of this package, and its public names are gathered here so callers
write ``reports.stats_for``, ``reports.export``: `days` (the days asked for), `stats` (/stats
and its text), `summary` (the daily summary), `sheets` (the ledger's sheets, one module per
sheet), `files` (XLSX and CSV), `exporter` (the bot's export, in parts of whole days, built
in child processes). Who may see what is `bot.services.scope`.
"""

from __future__ import annotations

from bot.services.reports.days import (
    BAD_DATES,
    MAX_DAYS,
    check_days,
    day_bounds,
    parse_days,
    preset,
)
from bot.services.reports.exporter import (
    Export,
    Part,
    database_url,
    export,
    export_files,
    export_parts,
    part_ranges,
    split_days,
)
from bot.services.reports.files import (
    FORMULA_START,
    csv_bytes,
    file_name,
    neutralise,
    workbook_bytes,
)
from bot.services.reports.sheets.book import ZH, build_sheets, ledger
from bot.services.reports.sheets.data import READ_CHUNK, LedgerData, ledger_data
from bot.services.reports.sheets.orders_sheet import ORDER_HEADINGS
from bot.services.reports.sheets.sheet import Sheet
from bot.services.reports.stats import (
    SHOWN_GRIDS,
    SHOWN_VOLUNTEERS,
    SHOWN_WAITING,
    GridLine,
    Stats,
    VolunteerLine,
    Waiting,
    render_stats,
    stats_for,
)
from bot.services.reports.summary import SUMMARY_KIND, SUMMARY_TITLE, summary_due

__all__ = [
    "BAD_DATES",
    "FORMULA_START",
    "MAX_DAYS",
    "ORDER_HEADINGS",
    "READ_CHUNK",
    "SHOWN_GRIDS",
    "SHOWN_VOLUNTEERS",
    "SHOWN_WAITING",
    "SUMMARY_KIND",
    "SUMMARY_TITLE",
    "ZH",
    "Export",
    "GridLine",
    "LedgerData",
    "Part",
    "Sheet",
    "Stats",
    "VolunteerLine",
    "Waiting",
    "build_sheets",
    "check_days",
    "csv_bytes",
    "database_url",
    "day_bounds",
    "export",
    "export_files",
    "export_parts",
    "file_name",
    "ledger",
    "ledger_data",
    "neutralise",
    "parse_days",
    "part_ranges",
    "preset",
    "render_stats",
    "split_days",
    "stats_for",
    "summary_due",
    "workbook_bytes",
]
