"""A throwaway PostgreSQL server for the tests, and the fixtures that hand it out.

`Cluster` owns one server: it finds initdb and pg_ctl (PATH, then Debian's
/usr/lib/postgresql/<version>/bin; scripts/ensure-postgres.sh installs Debian's `postgresql`
package when neither has them), makes a cluster with initdb in a temporary directory (trust
authentication, listening on 127.0.0.1 only, on a free port, no Unix socket, fsync and
synchronous_commit off: nothing in it outlives the test run), starts it with pg_ctl and at the
end stops it and removes the directory. initdb refuses to run as root, so as root every server
command runs as the unprivileged `postgres` user Debian's package creates (`nobody` when there
is none) through `runuser`, the way Debian's own pg_ctlcluster drops to the cluster's owner.
The fixtures: one cluster per test process (each pytest-xdist worker has its own: no shared
state between workers), one database migrated with the real Alembic migrations as a template,
and for each test a fresh database copied from it (CREATE DATABASE ... TEMPLATE), dropped after.
Test modules use them with ``pytest_plugins = ["tests.postgres"]``.
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from bot.clock import OffsetClock
from bot.config import Settings, load_settings
from bot.db import Database
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.seed import seed_demo

ROOT = Path(__file__).resolve().parent.parent
ENSURE = ROOT / "scripts" / "ensure-postgres.sh"
EXAMPLE = ROOT / "config.example.toml"
TEMPLATE = "paotui_template"
SUPERUSER = "postgres"
T = TypeVar("T")

# Throwaway: durability off. max_connections covers 20 concurrent units of work on two
# engines (the tests' races) with room to spare.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def _version(bindir: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([\d.]+)/bin", bindir)
    return tuple(int(p) for p in match.group(1).split(".")) if match else (0,)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: from PATH, else Debian's newest version."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(pg_ctl).resolve().parent
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        if os.access(f"{bindir}/initdb", os.X_OK) and os.access(f"{bindir}/pg_ctl", os.X_OK):
            return Path(bindir)
    return None


def ensure_bindir() -> Path:
    """`find_bindir`, installing Debian's package first (scripts/ensure-postgres.sh) if needed."""
    found = find_bindir()
    if found is None:
        subprocess.run(["sh", str(ENSURE)], check=True, stdout=subprocess.DEVNULL)
        found = find_bindir()
    if found is None:
        raise RuntimeError("PostgreSQL's initdb/pg_ctl not found, even after ensure-postgres.sh")
    return found


def _server_user() -> pwd.struct_passwd | None:
    """Whom the server runs as when we are root (initdb refuses root); None: ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a postgres nor a nobody user to run initdb")


def off_the_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a thread of its own: code that runs its own event loop (Alembic's
    env.py, asyncio.run) can then be called from a fixture set up inside a running one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One throwaway PostgreSQL server: `start`, databases made and dropped, `stop`."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or ensure_bindir()
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="paotui-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.running = False
        self._names = itertools.count(1)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.user.pw_name, "--"] if self.user else []
        done = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr or done.stdout}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        for attempt in range(5):  # a free port can be taken between asking and binding
            self.port = free_port()
            options = " ".join(f"-c {k}={v}" for k, v in SERVER_OPTIONS.items())
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    f"-p {self.port} {options}",
                    "-w",
                    "start",
                )
            except RuntimeError:
                if attempt == 4:
                    raise
                continue
            break
        self.running = True
        atexit.register(self.stop)  # a session killed before its fixtures end

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    async def admin(self, *statements: str) -> None:
        """Run statements on the maintenance database (CREATE/DROP DATABASE)."""
        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database="postgres"
        )
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def new_name(self) -> str:
        return f"t{os.getpid()}_{next(self._names)}"

    async def create(self, template: str = "template0") -> str:
        """A new database copied from ``template``; its name."""
        name = self.new_name()
        await self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    async def drop(self, name: str) -> None:
        await self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_dump(url: str) -> str:
    """The whole database at ``url`` (on a server of ours) as pg_dump writes it: schema and every
    row, as text (what sqlite3's iterdump is for a SQLite file)."""
    bindir = find_bindir()
    assert bindir is not None, "no PostgreSQL binaries, yet a database on our server"
    parts = make_url(url)
    done = subprocess.run(
        [
            str(bindir / "pg_dump"),
            f"--host={parts.host}",
            f"--port={parts.port}",
            f"--username={parts.username}",
            "--no-password",
            str(parts.database),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {done.stderr}")
    return done.stdout


def pg_settings(url: str, **overrides: Any) -> Settings:
    """The tests' settings (as tests/conftest.py's make_settings) on a PostgreSQL URL."""
    base: dict[str, Any] = {
        "database": {"url": url},
        "bot": {"poll_timeout": 2},
        "outbox": {"poll_seconds": 0.1},
        "reports": {"daily_summary_at": ""},
    }
    for key, value in overrides.items():
        base.setdefault(key, {}).update(value)
    return load_settings(EXAMPLE, **base)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """This test process's server (one per xdist worker), with the migrated template."""
    cluster = Cluster()
    cluster.start()
    try:
        create = cluster.admin(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
        off_the_loop(asyncio.run, create)
        off_the_loop(upgrade, cluster.url(TEMPLATE))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def pg_empty_url(pg_cluster: Cluster) -> AsyncIterator[str]:
    """A fresh, empty database (no tables): for the migrations' own tests."""
    name = await pg_cluster.create()
    yield pg_cluster.url(name)
    await pg_cluster.drop(name)


@pytest.fixture
async def pg_url(pg_cluster: Cluster) -> AsyncIterator[str]:
    """A fresh database migrated to head (a copy of the template), dropped after the test."""
    name = await pg_cluster.create(TEMPLATE)
    yield pg_cluster.url(name)
    await pg_cluster.drop(name)


@pytest.fixture
async def pg_rt(pg_url: str) -> AsyncIterator[Runtime]:
    """As tests/conftest.py's ``rt``, on PostgreSQL: demo community seeded."""
    db = Database(pg_url)
    runtime = Runtime(pg_settings(pg_url), db, OffsetClock())
    async with db.session() as s:
        await seed_demo(s, runtime.clock)
    yield runtime
    await db.dispose()
