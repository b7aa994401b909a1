"""No secret and no personal data in what the bot prints: the database password stays out of
`paotui check-config` and `paotui db upgrade` (run on every `make run`), and the tracebacks
sent to the operator chat carry no SQL parameters or phone numbers (issue 11 point 9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.runtime import Runtime
from bot.services.privacy import error_report, scrub

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret"
# Port 1: nothing listens there, so `db upgrade` fails at once without a real server.
URL = f"postgresql+asyncpg://paotui:{SECRET}@127.0.0.1:1/paotui"


def paotui(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")}
    env["PAOTUI_DATABASE__URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(ROOT / "config.example.toml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_check_config_never_prints_the_database_password(tmp_path: Path) -> None:
    proc = paotui(tmp_path, URL, "check-config")
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    # Still useful: the operator sees which database, with the password masked.
    assert "postgresql+asyncpg://paotui:***@127.0.0.1:1/paotui" in proc.stdout


def test_a_bad_database_url_is_refused_without_quoting_it(tmp_path: Path) -> None:
    proc = paotui(
        tmp_path, f"postgresql+asyncpg://paotui:{SECRET}@127.0.0.1:port/x", "check-config"
    )
    assert proc.returncode == 2
    assert "database.url" in proc.stderr and "not a database URL" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_db_upgrade_never_prints_the_database_password(tmp_path: Path, verbose: list[str]) -> None:
    proc = paotui(tmp_path, URL, *verbose, "db", "upgrade")
    # It cannot connect: a one-line reason naming the (masked) database, no traceback.
    assert proc.returncode == 1
    assert SECRET not in proc.stdout + proc.stderr
    assert "cannot migrate the database at postgresql+asyncpg://paotui:***@127.0.0.1:1" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_db_upgrade_says_where_without_the_password(tmp_path: Path) -> None:
    """The success line of every `make run` (a SQLite URL has no password; the masking
    leaves it readable)."""
    proc = paotui(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/p.db", "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert f"database at revision head: sqlite+aiosqlite:///{tmp_path}/p.db" in proc.stdout


async def test_operator_error_report_carries_no_sql_parameters(rt: Runtime) -> None:
    """A real failing statement on the bot's own engine, with a resident's phone and name as
    parameters: the report for the operator chat holds neither."""
    phone, name = "13800001001", "周阿姨"
    with pytest.raises(SQLAlchemyError) as info:
        async with rt.db.session() as s:
            await s.execute(
                text("INSERT INTO residents (name, phone, no_such_column) VALUES (:n, :p, 1)"),
                {"n": name, "p": phone},
            )
    report = error_report(info.value)
    assert "no_such_column" in report  # still says what went wrong
    assert phone not in report and name not in report
    assert "13800001001" not in str(info.value)  # hidden at the source, for the logs too


def test_operator_error_report_scrubs_phone_numbers_in_messages() -> None:
    """The second net: an exception whose own message quotes a phone number."""
    try:
        raise ValueError("no resident with phone 138 0013 8000 or 13800138000 (line 12)")
    except ValueError as exc:
        report = error_report(exc)
    assert "13800138000" not in report and "138 0013 8000" not in report
    assert "line 12" in report  # short numbers stay readable
    assert scrub("call 138-0013-8000 now") == "call *** now"
    assert "一三八" not in scrub("phone 一三八零零一三八零零零")  # as a group post is masked
