"""The `paotui` command line: the argument parser, the subcommands that run the bot (`run`),
migrate its database (`db upgrade`), check its config (`check-config`) and import the duty
roster (`roster import`), and `main()`, the console script's entry point. The other
subcommands are registered from their own modules of this package."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.config import ConfigError, Settings
from cli.backup import register_backup_parser
from cli.common import database, read_text, run_import, settings_from
from cli.merchant import register_merchant_parser
from cli.places import register_places_parser
from cli.reports import register_export_parser
from cli.resident import register_resident_parser
from cli.setup import add_setup_commands
from cli.staff import register_staff_parser
from cli.volunteer import register_volunteer_parser

logger = logging.getLogger(__name__)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "apscheduler", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_db(args: argparse.Namespace) -> int:
    from bot.db import safe_url, without_password
    from bot.migrate import upgrade

    settings = settings_from(args)
    url = settings.database.url
    try:
        upgrade(url, args.revision)
    except Exception as exc:  # no traceback: the driver's message is enough, and shorter
        reason = without_password(f"{type(exc).__name__}: {exc}", url)
        print(f"cannot migrate the database at {safe_url(url)}: {reason}", file=sys.stderr)
        return 1
    # Never the password (it is printed on every `make run`).
    print(f"database at revision {args.revision}: {safe_url(url)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    # The Telegram side is loaded only here, so the other subcommands start without it.
    from handlers.main import serve

    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except ConfigError as exc:  # found at start: a community no bot serves
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bot.db import safe_url

    settings = settings_from(args)
    if settings.bots:
        alone = asyncio.run(_unserved(settings))
        if alone is None:
            print("communities not checked against [[bots]]: the database cannot be read yet")
        elif alone:
            print(
                "bad configuration:\n  bots: no bot serves the communities " + ", ".join(alone),
                file=sys.stderr,
            )
            return 2
    mode = "Telegram" if settings.has_token else "sandbox (no PAOTUI_BOT__TOKEN)"
    if settings.bots:
        mode = f"{'Telegram' if settings.has_token else 'sandbox'}, {len(settings.bots)} bots"
    print(f"configuration OK; database {safe_url(settings.database.url)}; mode: {mode}")
    return 0


async def _unserved(settings: Settings) -> list[str] | None:
    """The communities of the database no bot of [[bots]] serves; None if it cannot be read
    (not created or not migrated yet)."""
    from bot.chat_bots import unserved

    try:
        async with database(settings) as db, db.read() as s:
            return await unserved(s, settings)
    except Exception:
        return None


ROSTER_IMPORT_HELP = """\
Add shifts to the duty roster from a CSV file (UTF-8; Excel's UTF-8 CSV is fine).

The first line is the header; then one line per volunteer per shift:

  grid,date,shift,volunteer
  第一网格,2024-05-01,day,13900002001
  第一网格,2024-05-01,night,2002
  2,2024-05-02,夜班,13900002101

  grid       the grid's name, or its id
  date       the local date the shift starts, YYYY-MM-DD (a night shift ends the next day)
  shift      a shift template of the config ([roster] shifts: day, night by default),
             by its name or its label (白班, 夜班)
  volunteer  the phone number or the Telegram id of an approved volunteer of that grid

Every line is checked first. If any line is bad, each bad line is printed with its number
and the reason, nothing is imported, and the exit status is 1. Otherwise all the shifts are
added in one transaction; shifts already on the roster are skipped. Volunteers are not
messaged; they are reminded before each shift and see their shifts with /shifts.
"""


async def roster_import(settings: Settings, text: str, name: str, out: TextIO, err: TextIO) -> int:
    """`paotui roster import FILE`: check every row, then import all or nothing."""
    from bot.services import roster

    result = await run_import(settings, roster.import_csv, text, name, err)
    if result is None:
        return 1
    print(f"added {result.added} shift(s); {result.skipped} already on the roster", file=out)
    return 0


def cmd_roster_import(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    text = read_text(args.file)
    if text is None:
        return 2
    return asyncio.run(roster_import(settings, text, args.file, sys.stdout, sys.stderr))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paotui", description="跑腿: community errand bot")
    p.add_argument(
        "--config",
        help="config file (default: $PAOTUI_CONFIG, ./config.toml, else config.example.toml)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot (the local emulator when there is no token)")
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="database migrations")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the database to the newest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db)

    roster = sub.add_parser("roster", help="the duty roster")
    rsub = roster.add_subparsers(dest="roster_command", required=True)
    imp = rsub.add_parser(
        "import",
        help="add shifts from a CSV file (grid,date,shift,volunteer)",
        description=ROSTER_IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", help="the CSV file")
    imp.set_defaults(func=cmd_roster_import)

    check = sub.add_parser("check-config", help="validate the configuration and exit")
    check.set_defaults(func=cmd_check)
    add_setup_commands(sub)  # import, qr
    register_staff_parser(sub)
    register_volunteer_parser(sub)
    register_export_parser(sub)
    register_resident_parser(sub)
    register_backup_parser(sub)  # backup, restore
    register_merchant_parser(sub)
    register_places_parser(sub)  # places import
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
