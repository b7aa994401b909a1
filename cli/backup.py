"""`paotui backup` and `paotui restore`: the command line over bot/backup.py. A backup is taken
while the bot runs and says where it went and how big it is; a restore needs the bot stopped.
Either exits 1 with one line saying what went wrong (and nothing changed)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.backup import BackupError, BackupFile, backup, default_target, restore
from bot.db import safe_url
from cli.common import settings_from

BACKUP_HELP = """\
Copy the database to a file while the bot keeps running.

SQLite: a consistent snapshot through SQLite's backup API (the bot may be writing), checked
with PRAGMA integrity_check; by default backups/paotui-YYYYmmdd-HHMMSS.db beside the database
file (var/backups/ for the default var/paotui.db).
PostgreSQL: pg_dump --format=custom (pg_dump must be on PATH, of the server's version or
newer); by default var/backups/paotui-YYYYmmdd-HHMMSS.dump.
"""

RESTORE_HELP = """\
Replace the database by a backup, then migrate it to the current schema (a backup made by an
older version works). Stop the bot first: a database in use is refused.

SQLite: the backup is checked (PRAGMA integrity_check), copied beside the database, migrated,
and only then put in its place; the old file is kept as <database>.before-restore.
PostgreSQL: the schema is emptied and the archive replayed in one transaction
(pg_restore | psql --single-transaction; both on PATH), then migrated.
"""


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} GB"


def describe(done: BackupFile) -> str:
    revision = f", schema {done.revision}" if done.revision else ""
    return f"{done.path} ({_size(done.size)}{revision})"


def cmd_backup(args: argparse.Namespace) -> int:
    url = settings_from(args).database.url
    target = Path(args.to) if args.to else default_target(url, datetime.now())
    try:
        done = backup(url, target)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {safe_url(url)} to {describe(done)}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    url = settings_from(args).database.url
    try:
        done = restore(url, Path(args.file))
    except BackupError as exc:
        print(f"restore failed, nothing changed: {exc}", file=sys.stderr)
        return 1
    older = (
        f" (migrated from schema {done.restored_from} to {done.revision})"
        if done.restored_from and done.restored_from != done.revision
        else ""
    )
    print(f"restored {args.file} into {safe_url(url)}{older}")
    return 0


def register_backup_parser(sub: Any) -> None:
    """`paotui backup [--to PATH]` and `paotui restore PATH`."""
    b = sub.add_parser(
        "backup",
        help="copy the database to a file (safe while the bot runs)",
        description=BACKUP_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--to", metavar="PATH", help="the backup file (must not exist yet)")
    b.set_defaults(func=cmd_backup)
    r = sub.add_parser(
        "restore",
        help="replace the database by a backup and migrate it (stop the bot first)",
        description=RESTORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("file", help="a file made by `paotui backup`")
    r.set_defaults(func=cmd_restore)
