"""Backups of the bot's database and restoring one (`paotui backup`, `paotui restore`), with no
Telegram here. SQLite: a consistent copy taken while the bot runs and writes (SQLite's online
backup API in one step, so one read transaction: a snapshot, and in WAL mode the bot's writers
carry on), checked with ``PRAGMA integrity_check``; a restore checks the backup, copies it next
to the database, migrates the copy to head, and only then swaps it in (the old file kept as
``….before-restore``), refusing while another connection has the database open. PostgreSQL:
``pg_dump --format=custom``; a restore empties the schema and replays the archive in one
transaction (``pg_restore`` piped to ``psql --single-transaction``), then migrates to head. Every
failure is a `BackupError` whose message says what to do, and leaves the database as it was."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import is_sqlite, without_password
from bot.migrate import upgrade

# The backups' folder: beside the SQLite file (var/backups for the default var/paotui.db), and
# var/backups in the working directory for PostgreSQL.
BACKUP_DIR = "backups"
PG_BACKUP_DIR = Path("var") / "backups"
ASIDE = ".before-restore"
PG_ARCHIVE_MAGIC = b"PGDMP"  # the first bytes of a pg_dump custom-format archive
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore that could not be done; the message is for the operator."""


@dataclass(frozen=True)
class BackupFile:
    """A backup made, or a database restored: where, how big, at which schema revision."""

    path: Path
    size: int
    revision: str | None = None
    restored_from: str | None = None  # a restore: the backup's own revision, before migrating


def default_target(url: str, now: datetime) -> Path:
    """``backups/paotui-YYYYmmdd-HHMMSS.db`` beside the SQLite file, or
    ``var/backups/paotui-YYYYmmdd-HHMMSS.dump`` for PostgreSQL."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    if is_sqlite(url):
        return sqlite_file(url).parent / BACKUP_DIR / f"paotui-{stamp}.db"
    return PG_BACKUP_DIR / f"paotui-{stamp}.dump"


def sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up or restore")
    return Path(database)


def backup(url: str, target: Path) -> BackupFile:
    """Back up the database at ``url`` to ``target`` (which must not exist yet)."""
    if target.exists():
        raise BackupError(f"{target} already exists: choose another name (--to)")
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(url):
        return backup_sqlite(sqlite_file(url), target)
    return backup_postgres(url, target)


def restore(url: str, source: Path) -> BackupFile:
    """Restore the backup ``source`` into the database at ``url`` and migrate it to head."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    if is_sqlite(url):
        return restore_sqlite(source, sqlite_file(url))
    return restore_postgres(source, url)


# --- SQLite ----------------------------------------------------------------------------------


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection (never creates the file), waiting out a writer's lock."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def _check(conn: sqlite3.Connection, path: Path) -> str | None:
    """``PRAGMA integrity_check`` passes and the file is a paotui database: its revision."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BackupError(f"{path} is damaged (integrity_check: {'; '.join(problems[:3])})")
    has_version = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if has_version is None:
        raise BackupError(f"{path} is a SQLite file but not a paotui database (no schema version)")
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """The whole database into ``target`` through the backup API (one step: one snapshot),
    as one self-contained file (rollback journal, not WAL: no -wal file beside it)."""
    with closing(sqlite3.connect(target, isolation_level=None)) as dest:
        source.backup(dest)  # pages=-1: every page in one step, under one read transaction
        dest.execute("PRAGMA journal_mode=DELETE")


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def backup_sqlite(source: Path, target: Path) -> BackupFile:
    """A consistent copy of the SQLite database ``source`` while the bot may be writing, checked
    before it takes its name (a failed backup leaves no file)."""
    if not source.is_file():
        raise BackupError(f"no database file at {source}")
    partial = target.with_name(target.name + ".partial")
    try:
        with closing(_read_only(source)) as conn:
            _copy(conn, partial)
        with closing(_read_only(partial)) as copy:
            revision = _check(copy, source)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        _remove(partial)
        raise BackupError(f"cannot back up {source}: {exc}") from exc
    except BaseException:
        _remove(partial)
        raise
    return BackupFile(target, target.stat().st_size, revision)


def _check_backup(source: Path) -> str | None:
    with source.open("rb") as fh:
        if fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupError(f"{source} is not a SQLite database (not a paotui backup)")
    try:
        with closing(_read_only(source)) as conn:
            return _check(conn, source)
    except sqlite3.Error as exc:
        raise BackupError(f"{source} cannot be read as a SQLite database: {exc}") from exc


@contextmanager
def _sole_user(path: Path) -> Iterator[None]:
    """Hold ``path`` exclusively for the swap, or refuse: leaving WAL mode needs every other
    connection closed, so it fails (at once, no wait) while the bot has the file open. The
    exclusive lock then keeps a bot starting meanwhile out until the new file is in place."""
    if not path.exists():
        yield
        return
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            raise BackupError(
                f"{path} is in use (is the bot running?): stop it, then restore ({exc})"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise BackupError(
                f"{path} is not a SQLite database: move it away yourself, then restore ({exc})"
            ) from exc
        if mode is None or str(mode[0]).lower() != "delete":
            raise BackupError(f"{path} is in use (is the bot running?): stop it, then restore")
        yield
    finally:
        conn.close()


def _aside_name(path: Path) -> Path:
    """``paotui.db.before-restore``, or ``….before-restore-2`` (and on) to keep earlier ones."""
    aside = path.with_name(path.name + ASIDE)
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}{ASIDE}-{n}")
    return aside


def restore_sqlite(source: Path, target: Path) -> BackupFile:
    """Restore the SQLite backup ``source`` as the database file ``target``: checked, copied
    beside it, migrated to head and checked again, then swapped in; the old file is kept aside
    (``….before-restore``). Nothing changes unless all of it succeeded."""
    if source.resolve() == target.resolve():
        raise BackupError(f"{source} is the database itself")
    from_revision = _check_backup(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".restoring")
    _remove(staging)
    try:
        with closing(_read_only(source)) as conn:
            _copy(conn, staging)
        try:
            upgrade(f"sqlite+aiosqlite:///{staging}")
        except Exception as exc:  # Alembic's own error: its message is the useful part
            raise BackupError(
                f"{source} could not be migrated to the current schema: {exc}"
            ) from exc
        with closing(_read_only(staging)) as conn:
            revision = _check(conn, staging)
        with _sole_user(target):
            if target.exists():
                os.replace(target, _aside_name(target))
            _remove(target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm"))
            os.replace(staging, target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore {source}: {exc}") from exc
    finally:
        _remove(staging, staging.with_name(staging.name + "-wal"))
    return BackupFile(target, target.stat().st_size, revision, from_revision)


# --- PostgreSQL ------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client of the server's version "
            "(Debian: apt-get install postgresql-client), or add its bin directory to PATH"
        )
    return found


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """The connection as libpq options, and the environment carrying the password (never on
    the command line, where `ps` shows it) and the SSL mode."""
    u: URL = make_url(url)
    args = [f"--dbname={u.database}"]
    if u.host:
        args.append(f"--host={u.host}")
    if u.port:
        args.append(f"--port={u.port}")
    if u.username:
        args.append(f"--username={u.username}")
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    ssl = u.query.get("sslmode") or u.query.get("ssl")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl, ssl)
    return [*args, "--no-password"], env


def _run(command: list[str], env: dict[str, str], url: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(command, env=env, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise BackupError(f"{Path(command[0]).name} failed: {without_password(stderr, url)}")


def backup_postgres(url: str, target: Path) -> BackupFile:
    """``pg_dump --format=custom`` of the database at ``url`` into ``target``."""
    args, env = _libpq(url)
    partial = target.with_name(target.name + ".partial")
    try:
        _run([_tool("pg_dump"), "--format=custom", f"--file={partial}", *args], env, url)
        os.replace(partial, target)
    finally:
        _remove(partial)
    return BackupFile(target, target.stat().st_size)


# Everything the schema holds (tables with their sequences and indexes, views, stand-alone
# sequences, enum types) dropped, the schema itself kept as it is (owner, grants, comment).
EMPTY_PUBLIC = """DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') LOOP
    EXECUTE format('DROP %s IF EXISTS public.%I CASCADE',
      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
        WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.relname);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') LOOP
    EXECUTE format('DROP TYPE IF EXISTS public.%I CASCADE', r.typname);
  END LOOP;
END $$"""


async def _other_sessions(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return int(count or 0)
    finally:
        await engine.dispose()


def restore_postgres(source: Path, url: str) -> BackupFile:
    """Replace the database at ``url`` by the archive ``source``, then migrate it to head.

    One transaction (``psql --single-transaction``): the public schema emptied (`EMPTY_PUBLIC`),
    then the archive's script (``pg_restore --file=-``). Not ``pg_restore --clean`` alone: that
    drops only what the archive holds, so a backup older than the database would leave the newer
    tables behind, and the migrations then fail to create them. A failure changes nothing."""
    with source.open("rb") as fh:
        if fh.read(len(PG_ARCHIVE_MAGIC)) != PG_ARCHIVE_MAGIC:
            raise BackupError(f"{source} is not a pg_dump archive (--format=custom)")
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    args, env = _libpq(url)
    # pg_restore reads the whole archive's table of contents first: a damaged file stops here.
    _run([pg_restore, "--list", str(source)], env, url)
    try:
        others = asyncio.run(_other_sessions(url))
    except Exception as exc:  # the driver's connection error, without the password
        raise BackupError(f"cannot connect: {without_password(str(exc), url)}") from exc
    if others:
        raise BackupError(
            f"{others} other connection(s) to the database (is the bot running?): "
            "stop every instance, then restore"
        )
    script = subprocess.run(
        [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(source)],
        capture_output=True,
        check=False,
    )
    if script.returncode != 0:
        raise BackupError(f"pg_restore failed: {script.stderr.decode(errors='replace').strip()}")
    _run(
        [
            psql,
            "--single-transaction",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            f"--command={EMPTY_PUBLIC}",
            "--file=-",
            *args,
        ],
        env,
        url,
        stdin=script.stdout,
    )
    try:
        upgrade(url)
    except Exception as exc:
        reason = without_password(str(exc), url)
        raise BackupError(f"restored, but not migrated to head: {reason}") from exc
    return BackupFile(source, source.stat().st_size)
