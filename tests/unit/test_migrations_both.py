"""The migrations on both backends: `paotui db upgrade` builds the schema from an empty
database and from every earlier revision, on SQLite and on a real PostgreSQL server
(tests/postgres.py), and the migrated schema is the one the models describe
(Alembic's compare_metadata finds no difference)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from bot.migrate import alembic_config, upgrade
from cli.main import main
from models import Base

if TYPE_CHECKING:  # pytest imports it, as a plugin (below), before this module could
    from tests.postgres import Cluster

pytest_plugins = ["tests.postgres"]
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"

SCRIPTS = ScriptDirectory.from_config(alembic_config("sqlite://"))
HEAD = SCRIPTS.get_current_head()
# Every revision but head, oldest first.
EARLIER = [r.revision for r in reversed(list(SCRIPTS.walk_revisions())) if r.revision != HEAD]


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'paotui.db'}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = await cluster.create()
    yield cluster.url(name)
    await cluster.drop(name)


def _cli_upgrade(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAOTUI_DATABASE__URL", url)
    assert main(["--config", str(EXAMPLE), "db", "upgrade"]) == 0


def _differences(url: str) -> tuple[str | None, list[Any]]:
    """(the database's revision, compare_metadata's differences from the models)."""

    def inspect(conn: sa.Connection) -> tuple[str | None, list[Any]]:
        context = MigrationContext.configure(conn)
        return context.get_current_revision(), compare_metadata(context, Base.metadata)

    async def run() -> tuple[str | None, list[Any]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(inspect)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_cli_upgrade_from_empty(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _cli_upgrade(empty_url, monkeypatch)
    revision, diffs = _differences(empty_url)
    assert revision == HEAD
    assert diffs == []


@pytest.mark.parametrize("start", EARLIER)
def test_cli_upgrade_from_every_revision(
    empty_url: str, start: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(empty_url, start)
    assert _differences(empty_url)[0] == start
    _cli_upgrade(empty_url, monkeypatch)
    revision, diffs = _differences(empty_url)
    assert revision == HEAD
    assert diffs == []
