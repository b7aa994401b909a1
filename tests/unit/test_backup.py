"""`paotui backup` and `paotui restore` through the command line: a round trip, a backup of an
older schema restored and migrated to head, the old database kept aside, and bad input (no file,
not a database, not ours, a database in use, a backup name taken) refused with one clear line
and nothing changed. SQLite here (the files themselves); PostgreSQL's round trip, with pg_dump
and pg_restore on the tests' own server, in the tests parametrized with "postgres" (they run
under ``--db postgres``)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.script import ScriptDirectory

from bot.migrate import alembic_config, upgrade
from bot.runtime import Runtime
from cli.main import main

if TYPE_CHECKING:
    from tests.postgres import Cluster

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
OLD = "0013"


def paotui(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("PAOTUI_DATABASE__URL", url)
    return main(["--config", str(EXAMPLE), *args])


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but Alembic's, sorted."""
    with sqlite3.connect(path) as conn:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if r[0] not in ("alembic_version", "sqlite_sequence")
        ]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


def revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def digest(*paths: Path) -> dict[str, str | None]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in paths
    }


@pytest.fixture
def seeded(rt: Runtime, db_path: Path) -> Path:
    """The test's SQLite file, the demo community in it (``rt`` seeds it, and stays open)."""
    return db_path


@pytest.mark.sqlite_only
async def test_round_trip_into_a_fresh_path(
    seeded: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup = tmp_path / "b" / "paotui-1.db"
    assert (
        await asyncio.to_thread(
            paotui, sqlite_url(seeded), monkeypatch, "backup", "--to", str(backup)
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(rf"{backup} \(\d+\.\d (KB|MB), schema {HEAD}\)", out), out

    fresh = tmp_path / "elsewhere" / "restored.db"
    assert (
        await asyncio.to_thread(paotui, sqlite_url(fresh), monkeypatch, "restore", str(backup)) == 0
    )
    assert "restored" in capsys.readouterr().out
    assert revision(fresh) == HEAD
    assert rows(fresh) == rows(seeded) and rows(fresh)["buildings"] and rows(fresh)["volunteers"]
    assert not list(fresh.parent.glob("*.restoring*"))


@pytest.mark.sqlite_only
async def test_default_name_beside_the_database(
    seeded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(paotui, sqlite_url(seeded), monkeypatch, "backup") == 0
    made = list((seeded.parent / "backups").glob("paotui-*-*.db"))
    assert len(made) == 1 and str(made[0]) in capsys.readouterr().out
    assert rows(made[0]) == rows(seeded)


def test_an_older_backup_is_migrated_to_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.db"
    upgrade(sqlite_url(old), OLD)
    backup = tmp_path / "old-backup.db"
    assert paotui(sqlite_url(old), monkeypatch, "backup", "--to", str(backup)) == 0
    assert revision(backup) == OLD

    live = tmp_path / "live.db"
    upgrade(sqlite_url(live))
    before = live.read_bytes()
    assert paotui(sqlite_url(live), monkeypatch, "restore", str(backup)) == 0
    assert f"migrated from schema {OLD} to {HEAD}" in capsys.readouterr().out
    assert revision(live) == HEAD
    aside = tmp_path / "live.db.before-restore"
    assert aside.read_bytes() == before  # the old database, kept as it was
    assert revision(backup) == OLD  # the backup itself is not touched


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "live" / "live.db"  # a folder of its own: nothing else appears in it
    upgrade(sqlite_url(path))
    yield path


def _refused(
    live: Path,
    source: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    around = [live, live.with_name(live.name + ".before-restore"), source]
    before = digest(*around)
    assert paotui(sqlite_url(live), monkeypatch, "restore", str(source)) == 1
    err = capsys.readouterr().err
    assert err.startswith("restore failed, nothing changed: ") and err.count("\n") == 1
    assert digest(*around) == before
    left = [p.name for p in live.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))]
    assert sorted(left) == sorted(p.name for p in around[:2] if p.exists())
    return err


def test_restore_refuses_bad_input(
    live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    assert "no backup at" in _refused(live, missing, monkeypatch, capsys)

    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    assert "not a SQLite database" in _refused(live, junk, monkeypatch, capsys)

    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert "not a paotui database" in _refused(live, foreign, monkeypatch, capsys)

    damaged = tmp_path / "damaged.db"
    data = bytearray(live.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree: garbage
    damaged.write_bytes(bytes(data))
    assert "damaged.db" in _refused(live, damaged, monkeypatch, capsys)


def test_restore_refuses_a_database_in_use(
    live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "b.db"
    assert paotui(sqlite_url(live), monkeypatch, "backup", "--to", str(backup)) == 0
    capsys.readouterr()
    bot = sqlite3.connect(live)  # as the bot's pool holds it: WAL, read once, left open
    bot.execute("PRAGMA journal_mode=WAL")
    bot.execute("SELECT count(*) FROM residents").fetchone()
    try:
        assert "in use" in _refused(live, backup, monkeypatch, capsys)
    finally:
        bot.close()
    assert paotui(sqlite_url(live), monkeypatch, "restore", str(backup)) == 0


def test_backup_refuses_a_taken_name_and_a_missing_database(
    live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"keep me")
    assert paotui(sqlite_url(live), monkeypatch, "backup", "--to", str(taken)) == 1
    assert "already exists" in capsys.readouterr().err and taken.read_bytes() == b"keep me"

    nowhere = tmp_path / "missing.db"
    target = tmp_path / "x.db"
    assert paotui(sqlite_url(nowhere), monkeypatch, "backup", "--to", str(target)) == 1
    assert "no database file" in capsys.readouterr().err
    assert not nowhere.exists() and not target.exists()


def test_no_pg_dump_on_path_is_said_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    url = "postgresql+asyncpg://paotui:secret@127.0.0.1:1/paotui"
    target = tmp_path / "x.dump"
    assert paotui(url, monkeypatch, "backup", "--to", str(target)) == 1
    err = capsys.readouterr().err
    assert "pg_dump is not on PATH" in err and "secret" not in err
    assert not target.exists()


# --- PostgreSQL ------------------------------------------------------------------------------


def pg_rows(url: str) -> str:
    """pg_dump's text of the database (tests/postgres.py), without its random ``\\restrict``
    keys (pg_dump 15.14 and on): schema and every row."""
    from tests.postgres import off_the_loop, pg_dump

    text = off_the_loop(pg_dump, url)
    return "\n".join(
        line for line in text.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    )


@pytest.fixture
def pg_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.postgres import find_bindir

    bindir = find_bindir()
    assert bindir is not None
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.usefixtures("pg_path")
async def test_pg_round_trip_and_an_older_backup(
    backend: str,
    rt: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    from tests.postgres import off_the_loop

    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = rt.settings.database.url
    await rt.db.dispose()  # the restore wants the database to itself
    dump = tmp_path / "paotui.dump"
    assert off_the_loop(paotui, url, monkeypatch, "backup", "--to", str(dump)) == 0
    assert str(dump) in capsys.readouterr().out
    assert dump.read_bytes().startswith(b"PGDMP")

    fresh = cluster.url(await cluster.create())
    old = cluster.url(await cluster.create())
    try:
        assert off_the_loop(paotui, fresh, monkeypatch, "restore", str(dump)) == 0
        assert pg_rows(fresh) == pg_rows(url)

        # A backup of an older schema, restored over a database at head: migrated to head.
        off_the_loop(upgrade, old, OLD)
        old_dump = tmp_path / "old.dump"
        assert off_the_loop(paotui, old, monkeypatch, "backup", "--to", str(old_dump)) == 0
        assert off_the_loop(paotui, url, monkeypatch, "restore", str(old_dump)) == 0
        head = pg_rows(url)
        assert f"\n{HEAD}\n" in head.split("COPY public.alembic_version")[1]
        assert "COPY public.residents" in head

        # Bad input: refused, nothing changed.
        capsys.readouterr()
        junk = tmp_path / "junk.dump"
        junk.write_text("hello")
        assert off_the_loop(paotui, url, monkeypatch, "restore", str(junk)) == 1
        assert "not a pg_dump archive" in capsys.readouterr().err
        assert pg_rows(url) == head
    finally:
        await cluster.drop(fresh.rsplit("/", 1)[1])
        await cluster.drop(old.rsplit("/", 1)[1])
