"""Shared fixtures: a migrated database per test on the backend chosen with ``--db`` (a copied
SQLite file, or a fresh PostgreSQL database on the tests' own server, tests/postgres.py), the
emulator, and the real bot service built by the same composition root as `paotui run`."""

from __future__ import annotations

import functools
import gc
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.clock import OffsetClock
from bot.config import Settings, load_settings
from bot.db import Database
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.seed import seed_demo
from tests.factories import Harness, bot_service
from tests.privacy_guard import GroupLog, group_leaks

os.environ.setdefault("PTB_TIMEDELTA", "1")  # before telegram is imported anywhere
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
TOKEN = "100000001:TEST-TOKEN"
BACKENDS = ("sqlite", "postgres")

pytest_plugins = ["tests.postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=BACKENDS,
        default=os.environ.get("DB") if os.environ.get("DB") in BACKENDS else "sqlite",
        help="the database every test's `database_url` (and so `settings`, `rt`) is on: "
        "sqlite (a copied file) or postgres (the tests' own server); default $DB, else sqlite",
    )


def backend(config: pytest.Config) -> str:
    return str(config.getoption("--db"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests first (stable otherwise): the parallel run hands tests out in this order,
    and a long one handed out last would end the run alone on one worker.

    A test that takes the backend as a parameter of its own (tests/unit/test_migrations_both.py,
    test_caps_concurrent.py) runs in the phase of that backend only: once per `make test`.
    Tests marked ``sqlite_only`` are skipped under ``--db postgres``."""
    chosen = backend(config)
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        other = {v for v in (params.params.values() if params else ()) if v in BACKENDS}
        (dropped if other - {chosen} else kept).append(item)
        if chosen == "postgres" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="reads the SQLite file itself"))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True)
def collect_what_the_test_left() -> Iterator[None]:
    """After a test's other fixtures (its event loop too: set up first, so finalized last),
    collect what it left behind, before pytest reports unraisable warnings: a connection a test
    abandoned is reported in that test, under its own warning filters, not in whichever test
    the collector next runs in (CI: aiosqlite's "deleted before being closed" failed an
    unrelated unit test)."""
    yield
    gc.collect()


@pytest.fixture(scope="session", autouse=True)
def one_tls_context_per_worker() -> Iterator[None]:
    """Every HTTP client the bot builds (four per BotService: the application's two, the poller's
    and the outbox's) loads the CA bundle into a new TLS context: a quarter of an end-to-end
    test's CPU, and the emulator speaks plain HTTP. Within one test process the clients share
    the context made for the same arguments (immutable once made; a context is meant to be
    shared between connections). Outside the tests nothing changes."""
    from httpx._transports import default

    made: Callable[..., Any] = default.create_ssl_context
    cached = functools.cache(made)

    def shared(*args: Any, **kwargs: Any) -> Any:
        try:
            return cached(*args, **kwargs)
        except TypeError:  # an argument that cannot be a key (a context of the caller's)
            return made(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(default, "create_ssl_context", shared)
        yield


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once with Alembic (the real migrations); each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "paotui.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def make_settings(url: str, **overrides: Any) -> Settings:
    """The tests' settings on the database at ``url`` (the ``database_url`` fixture's)."""
    base: dict[str, Any] = {
        "database": {"url": url},
        "bot": {"poll_timeout": 2},
        "outbox": {"poll_seconds": 0.1},
        # Off unless a test turns it on: otherwise every test run after 20:00 local time would
        # see the day's summary sent to the demo staff by the first sweep.
        "reports": {"daily_summary_at": ""},
    }
    for key, value in overrides.items():
        base.setdefault(key, {}).update(value)
    return load_settings(EXAMPLE, **base)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """This test's own database, migrated to head, on the ``--db`` backend: a copy of the SQLite
    template, or a fresh PostgreSQL database copied from the migrated template database
    (tests/postgres.py ``pg_url``, dropped after the test)."""
    if backend(request.config) == "postgres":
        return str(request.getfixturevalue("pg_url"))
    target = tmp_path / "paotui.db"
    shutil.copy(request.getfixturevalue("template_db"), target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def db_path(database_url: str) -> Path:
    """The SQLite file itself, for a test that reads it (marked ``sqlite_only``)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        pytest.fail("db_path is the SQLite file: mark the test sqlite_only, or use database_url")
    return Path(url.database)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime for service tests: the test's own database, demo community seeded."""
    db = Database(settings.database.url)
    runtime = Runtime(settings, db, OffsetClock())
    async with db.session() as s:
        await seed_demo(s, runtime.clock)
    yield runtime
    await db.dispose()


# Telegram's limits run this many times faster than real time in the end-to-end tests: the
# emulator enforces them (strictly, where requests arrive) in emulated seconds and the bot paces
# itself on the same clock (sandbox.ratelimit, bot.outbox.pacer.PaceClock). A private chat takes
# 20 messages a real second instead of 1; every limit holds exactly as strictly, only sooner.
# Tests marked ``realtime`` run at 1, to prove the pacing at Telegram's own speed.
TIME_SCALE = 20.0


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    from sandbox.emulator import Emulator

    scale = 1.0 if request.node.get_closest_marker("realtime") else TIME_SCALE
    emulator = Emulator(strict=True, time_scale=scale)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def harness(rt: Runtime, emu: Any, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The real Application over HTTP against the emulator, polling into the inbox."""
    from handlers.main import populate_emulator
    from handlers.transport import CALLS_IN_TRANSACTION

    populate_emulator(emu, TOKEN)
    # Every version of every message the bot shows a group, checked when the test ends.
    log = GroupLog().attach(emu)
    service = bot_service(rt, emu, TOKEN)
    await service.start()
    h = Harness(service=service, rt=rt, emu=emu, group_log=log)
    CALLS_IN_TRANSACTION.clear()
    try:
        yield h
    finally:
        await h.service.stop()
    # DESIGN rule 11, in every end-to-end test: no Telegram call with a write transaction open.
    assert not CALLS_IN_TRANSACTION, f"Telegram called inside a transaction: {CALLS_IN_TRANSACTION}"
    # Within Telegram's limits, in every end-to-end test: the strict emulator refused nothing
    # (injected failures are not counted; a reset_limits_state forgets none), unless the test
    # made the emulator stricter than the bot's pacing on purpose (marked ``expect_429``).
    if not request.node.get_closest_marker("expect_429"):
        refused = emu.bot(TOKEN).limiter.refused_ever
        assert not refused, f"the bot exceeded Telegram's limits: {dict(refused)} 429s"
    # The privacy guard (DESIGN rule 6): a test that made the bot leak fails, whatever it tested.
    leaks = await group_leaks(rt, log)
    assert not leaks, "personal data reached a group chat:\n" + "\n".join(leaks)
