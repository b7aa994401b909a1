"""The roster's services: shift times from templates (across midnight, in the time zone),
setting a shift, and the CSV import (all or nothing, every bad line reported)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.clock import OffsetClock
from bot.config import ShiftTemplate
from bot.errors import Refused
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import roster
from cli.main import roster_import
from models import Handover, Shift, Volunteer
from tests.conftest import ROOT
from tests.factories import STAFF, VOLUNTEERS_1

DAY = ShiftTemplate(name="day", start="08:00", end="20:00")
NIGHT = ShiftTemplate(name="night", start="20:00", end="08:00")


def test_day_and_night_in_shanghai() -> None:
    d = date(2024, 5, 1)
    assert roster.shift_times(DAY, d, "Asia/Shanghai") == (
        datetime(2024, 5, 1, 0, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    # The night shift ends the next morning.
    assert roster.shift_times(NIGHT, d, "Asia/Shanghai") == (
        datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        datetime(2024, 5, 2, 0, 0, tzinfo=UTC),
    )
    # Across the end of a month and a year.
    assert roster.shift_times(NIGHT, date(2024, 12, 31), "Asia/Shanghai") == (
        datetime(2024, 12, 31, 12, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
    )


def test_times_follow_the_zone_and_its_clock_changes() -> None:
    late = ShiftTemplate(name="late", start="22:00", end="06:00")
    # Berlin moves its clocks forward that night: the shift is seven hours long.
    start, end = roster.shift_times(late, date(2024, 3, 30), "Europe/Berlin")
    assert start == datetime(2024, 3, 30, 21, 0, tzinfo=UTC)
    assert end == datetime(2024, 3, 31, 4, 0, tzinfo=UTC)
    # A start equal to the end is a 24-hour shift.
    full = ShiftTemplate(name="full", start="08:00", end="08:00")
    start, end = roster.shift_times(full, date(2024, 5, 1), "Asia/Shanghai")
    assert (end - start).total_seconds() == 24 * 3600


def test_labels_shown_in_chinese() -> None:
    _ = gettext_for("zh_CN")
    start, end = roster.shift_times(NIGHT, date(2024, 5, 1), "Asia/Shanghai")
    assert (
        roster.shift_label("night", start, end, _, "Asia/Shanghai") == "05-01 周三 夜班 20:00–08:00"
    )
    en = gettext_for("en")
    assert roster.shift_label(
        "day", *roster.shift_times(DAY, date(2024, 5, 1), "UTC"), en, "UTC"
    ) == ("05-01 Wed Day shift 08:00–20:00")


async def _shifts(rt: Runtime) -> list[tuple[int, int, datetime, str | None]]:
    async with rt.db.read() as s:
        rows = await s.execute(
            select(Shift.grid_id, Volunteer.telegram_id, Shift.starts_at, Shift.template)
            .join(Volunteer, Volunteer.id == Shift.volunteer_id)
            .order_by(Shift.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_staff_set_a_shift_idempotently_and_others_are_refused(rt: Runtime) -> None:
    d = rt.today()
    async with rt.db.session() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == VOLUNTEERS_1[0]))
        assert vol is not None
        for _ in range(2):  # a redelivered press changes nothing more
            ed = await roster.set_shift(rt, s, STAFF, 1, d, "night", vol.id, True)
        assert [c.telegram_id for c, on in ed.volunteers if on] == [VOLUNTEERS_1[0]]
        with pytest.raises(Refused):
            await roster.set_shift(rt, s, VOLUNTEERS_1[1], 1, d, "night", vol.id, True)
        with pytest.raises(Refused):  # a volunteer of another grid
            await roster.set_shift(rt, s, STAFF, 2, d, "night", vol.id, True)
        with pytest.raises(Refused):  # a shift already over stays as it was
            await roster.set_shift(rt, s, STAFF, 1, d - timedelta(days=2), "day", vol.id, True)
    start, _end = roster.shift_times(NIGHT, d, rt.timezone)
    assert await _shifts(rt) == [(1, VOLUNTEERS_1[0], start, "night")]
    async with rt.db.session() as s:
        for _ in range(2):
            ed = await roster.set_shift(rt, s, STAFF, 1, d, "night", vol.id, False)
    assert await _shifts(rt) == []


GOOD = """\ufeffgrid,date,shift,volunteer
第一网格,2024-05-01,day,13900002001
第一网格,2024-05-01,night,2002
2,2024-05-02,夜班,139 0000 2101

第一网格,2024-05-01,day,2001
"""

BAD = """grid,date,shift,volunteer
第一网格,2024-05-01,day,13900002001
第九网格,2024-05-01,day,2001
第一网格,1.5.2024,day,2001
第一网格,2024-05-01,evening,2001
第一网格,2024-05-01,day,2101
第一网格,2024-05-01,day,555
第二网格,2024-05-02,night,
"""


async def _import(rt: Runtime, text: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await roster_import(rt.settings, text, "week.csv", out, err)
    return code, out.getvalue(), err.getvalue()


async def test_import_a_good_file_then_again(rt: Runtime) -> None:
    code, out, err = await _import(rt, GOOD)
    assert code == 0 and err == ""
    # The last line repeats the first (by Telegram id instead of phone): skipped.
    assert "added 3 shift(s); 1 already on the roster" in out
    day, _ = roster.shift_times(DAY, date(2024, 5, 1), rt.timezone)
    night, _ = roster.shift_times(NIGHT, date(2024, 5, 1), rt.timezone)
    night2, _ = roster.shift_times(NIGHT, date(2024, 5, 2), rt.timezone)
    assert await _shifts(rt) == [
        (1, 2001, day, "day"),
        (1, 2002, night, "night"),
        (2, 2101, night2, "night"),
    ]
    code, out, _err = await _import(rt, GOOD)
    assert code == 0 and "added 0 shift(s); 4 already on the roster" in out
    assert len(await _shifts(rt)) == 3


async def test_import_with_bad_lines_imports_nothing_and_names_each(rt: Runtime) -> None:
    code, out, err = await _import(rt, BAD)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1] == "nothing imported: 6 bad line(s) of 7"
    bad = dict(line.split(": ", 1) for line in lines[:-1])
    assert sorted(bad) == [f"week.csv:{n}" for n in range(3, 9)]
    assert "no grid '第九网格'" in bad["week.csv:3"]
    assert "YYYY-MM-DD" in bad["week.csv:4"]
    assert "no shift 'evening' (the shifts are: day, night)" in bad["week.csv:5"]
    assert "陈静 (2101) is a volunteer of 第二网格, not of 第一网格" in bad["week.csv:6"]
    assert "no volunteer" in bad["week.csv:7"]
    assert "the volunteer is empty" in bad["week.csv:8"]
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Shift)) == 0


async def test_import_needs_the_header(rt: Runtime) -> None:
    code, _out, err = await _import(rt, "第一网格,2024-05-01,day,2001\n")
    assert code == 1 and "week.csv:1: the first line must be the header" in err
    code, _out, err = await _import(rt, "")
    assert code == 1 and "empty" in err


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_command_line(rt: Runtime, tmp_path: Path) -> None:
    """`paotui roster import FILE` as an operator runs it: the exit status tells."""
    env = {**os.environ, "PAOTUI_DATABASE__URL": rt.settings.database.url}
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(BAD, encoding="utf-8")
    good.write_text(GOOD, encoding="utf-8")
    code, _out, err = await _cli("roster", "import", str(bad), env=env)
    assert code == 1 and f"{bad}:3: no grid" in err
    code, out, err = await _cli("roster", "import", str(good), env=env)
    assert code == 0, err
    assert "added 3 shift(s)" in out
    assert len(await _shifts(rt)) == 3
    code, out, _err = await _cli("roster", "import", "--help", env=env)
    assert code == 0 and "grid,date,shift,volunteer" in out


def _next_slot(rt: Runtime) -> roster.Slot:
    now = rt.clock.now()
    today = rt.today()
    return min(
        (
            s
            for d in (today, today + timedelta(days=1))
            for s in roster.slots_of_day(rt, d)
            if s.starts_at > now + timedelta(minutes=30)
        ),
        key=lambda s: s.starts_at,
    )


def _advance_to(rt: Runtime, when: datetime) -> None:
    assert isinstance(rt.clock, OffsetClock)
    rt.clock.advance(when - rt.clock.now())


async def test_no_stale_handover_and_no_reminder_for_a_shift_over(rt: Runtime) -> None:
    s = _next_slot(rt)
    async with rt.db.session() as session:
        vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == 2001))
        assert vol is not None
        await roster.set_shift(rt, session, STAFF, 1, s.day, s.template, vol.id, True)
    # The bot was down through the start and the whole shift: no reminder any more; the
    # change at its start, long past, gets no handover; the one just now (its end) gets one.
    _advance_to(rt, s.ends_at + timedelta(minutes=1))
    assert await roster.remind_due(rt) == 0
    assert await roster.handover_due(rt) == 1
    assert await roster.handover_due(rt) == 0
    async with rt.db.read() as session:
        assert (await session.scalars(select(Handover.at))).all() == [s.ends_at]
        assert await session.scalar(select(Shift.reminded_at)) is None


async def test_the_command_line_refuses_unsafe_cells_naming_each_line(
    rt: Runtime, tmp_path: Path
) -> None:
    """A formula, a NUL and a cell over the csv module's limit: exit 1, each line named, no
    traceback, nothing added. A phone number written +86... is still a volunteer."""
    env = {**os.environ, "PAOTUI_DATABASE__URL": rt.settings.database.url}
    path = tmp_path / "unsafe.csv"
    path.write_text(
        "grid,date,shift,volunteer\n"
        "第一网格,2024-05-01,day,+86 139 0000 2001\n"  # 2: good
        "第一网格,2024-05-01,=1+1,2001\n"  # 3
        "第一网格,2024-05-02,day,\x002001\n"  # 4
        "第一网格,2024-05-03,day," + "9" * 140_000 + "\n",  # 5
        encoding="utf-8",
    )
    code, out, err = await _cli("roster", "import", str(path), env=env)
    assert code == 1 and out == ""
    assert "Traceback" not in err
    assert f"{path}:3: the shift '=1+1' begins with '='" in err
    assert f"{path}:4: the volunteer contains a control character (U+0000)" in err
    assert f"{path}:5: a cell is longer than 131,072 characters" in err
    assert f"{path}:2:" not in err
    assert await _shifts(rt) == []
