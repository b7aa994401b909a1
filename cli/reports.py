"""`paotui export --from --to`: the ledger (台账) as an XLSX workbook, and the orders as CSV."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import Refused
from bot.i18n import gettext_for
from cli.common import database, settings_from

EXPORT_HELP = """\
Write the ledger (台账) of some local days to an XLSX workbook with Chinese headings: orders,
order events, volunteers, notices, notice receipts (who confirmed), the care list with its
daily check-ins and the audit log of staff actions. --csv also writes the orders as CSV
(UTF-8 with a BOM, so Excel shows the Chinese). Without --community it covers every
community. The export itself is written to the audit log.

  paotui export --from 2026-11-01 --to 2026-11-23
  paotui export --from 2026-11-23 --to 2026-11-23 --out 台账.xlsx --csv 订单.csv --community xingfu
"""


async def run_export(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bot.clock import SystemClock
    from bot.services import audit, reports
    from bot.services.scope import for_community

    en = gettext_for("en")
    try:
        day_from, day_to = reports.parse_days(
            [args.date_from, args.date_to], date.today(), "export"
        )
    except Refused:
        print(
            "bad dates: give --from and --to as YYYY-MM-DD, --from not after --to, "
            f"at most {reports.MAX_DAYS} days",
            file=err,
        )
        return 2
    tz = settings.i18n.timezone
    async with database(settings) as db:
        async with db.session() as session:
            try:
                scope = await for_community(session, args.community)
            except Refused as e:
                print(e.render(en), file=err)
                return 1
            sheets = await reports.ledger(session, scope, day_from, day_to, tz)
            data = reports.workbook_bytes(sheets)
            csv_data = reports.csv_bytes(sheets[0]) if args.csv else None
            await audit.record(
                session,
                SystemClock(),
                None,
                "report.exported",
                args.community or "all",
                days=f"{day_from}..{day_to}",
            )
        xlsx = Path(args.out or reports.file_name(day_from, day_to, "xlsx"))
        await asyncio.to_thread(xlsx.write_bytes, data)
        print(
            f"wrote {xlsx}: " + ", ".join(f"{len(s.rows)} {_NOUN[s.title]}" for s in sheets),
            file=out,
        )
        if csv_data is not None:
            await asyncio.to_thread(Path(args.csv).write_bytes, csv_data)
            print(f"wrote {args.csv}", file=out)
        return 0


_NOUN = {
    "订单": "order(s)",
    "订单记录": "order event(s)",
    "志愿者": "volunteer(s)",
    "通知": "notice(s)",
    "通知回执": "notice receipt(s)",
    "关爱名单": "care household(s)",
    "楼栋状态": "building(s)",
    "操作记录": "audit row(s)",
}


def register_export_parser(sub: Any) -> None:
    """Add `export` to the CLI."""
    p = sub.add_parser(
        "export",
        help="write the ledger (台账) of some days as XLSX (and CSV)",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--from", dest="date_from", required=True, help="first local day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="last local day, YYYY-MM-DD")
    p.add_argument("--out", help="the XLSX file (default: 台账_<days>.xlsx)")
    p.add_argument("--csv", help="also write the orders as CSV to this file")
    p.add_argument("--community", help="one community by its code (default: all)")

    def cmd(args: argparse.Namespace) -> int:
        return asyncio.run(run_export(settings_from(args), args, sys.stdout, sys.stderr))

    p.set_defaults(func=cmd)
