"""The `paotui` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings

logger = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from exc


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "apscheduler", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_db(args: argparse.Namespace) -> int:
    from bot.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.database.url, args.revision)
    print(f"database at revision {args.revision}: {settings.database.url}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    # The Telegram side is loaded only here: bot/ itself stays free of Telegram types.
    from handlers.main import serve

    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    mode = "Telegram" if settings.has_token else "sandbox (no PAOTUI_BOT__TOKEN)"
    print(f"configuration OK; database {settings.database.url}; mode: {mode}")
    return 0


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

    check = sub.add_parser("check-config", help="validate the configuration and exit")
    check.set_defaults(func=cmd_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
