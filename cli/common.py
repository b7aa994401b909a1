"""What the `paotui` subcommands share: loading the config, reading a CSV file, and running an
all-or-nothing import (`paotui import`, `paotui roster import`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol, TextIO, TypeVar

from bot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.db import Database
    from bot.runtime import Runtime


class _Result(Protocol):
    rows: int
    errors: list[tuple[int, str]]


R = TypeVar("R", bound=_Result)


def settings_from(args: argparse.Namespace) -> Settings:
    """The config named by --config; a bad one exits 2 naming the key."""
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from exc


def read_text(path: str) -> str | None:
    """The file as text (a UTF-8 BOM dropped), or None after saying why it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return None


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database for one command, closed when it is done."""
    from bot.db import Database

    db = Database(settings.database.url)
    try:
        yield db
    finally:
        await db.dispose()


async def run_import(
    settings: Settings,
    importer: Callable[[Runtime, AsyncSession, str], Awaitable[R]],
    text: str,
    name: str,
    err: TextIO,
) -> R | None:
    """Run ``importer`` in one transaction; None (after printing every bad line with its
    number to ``err``) if the file had errors and nothing was imported."""
    from bot.clock import SystemClock
    from bot.runtime import Runtime

    async with database(settings) as db, db.session() as session:
        result = await importer(Runtime(settings, db, SystemClock()), session, text)
    if result.errors:
        for line, reason in result.errors:
            print(f"{name}:{line}: {reason}", file=err)
        print(f"nothing imported: {len(result.errors)} bad line(s) of {result.rows}", file=err)
        return None
    return result
