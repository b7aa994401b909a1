"""Distribution points and checkpoints from a CSV file (issue 17): all or nothing, every bad
line reported with its number; the buildings each serves; importing again changes nothing;
and the status at a given time from a building's history."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from bot.services import building_status
from cli.main import main
from cli.places import places_import
from models import Building, BuildingStatus, Place

HEADER = "community_code,place,kind,location,pickup_times,buildings\n"
GOOD = (
    "\ufeff"
    + HEADER
    + 'xingfu,北门配送点,point,北门外空地,"每天 9:00-11:00, 16:00-18:00",xf1 xf2、xf3\n'
    + "xingfu,和平里卡口,卡口,和平里东门,,hp5\n"
)


async def _import(rt: Runtime, text: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await places_import(rt.settings, text, "places.csv", out, err)
    return code, out.getvalue(), err.getvalue()


async def _served(rt: Runtime) -> dict[str, str | None]:
    async with rt.db.read() as s:
        names = {p.id: p.name for p in await s.scalars(select(Place))}
        return {b.code: names.get(b.place_id or 0) for b in await s.scalars(select(Building))}


async def test_places_and_the_buildings_they_serve_are_imported_once(rt: Runtime) -> None:
    code, out, err = await _import(rt, GOOD)
    assert code == 0, err
    assert "places:    2 created, 0 updated, 0 unchanged" in out
    assert "buildings: 4 created" not in out and "buildings: 0 created, 4 updated" in out
    assert await _served(rt) == {
        "xf1": "北门配送点",
        "xf2": "北门配送点",
        "xf3": "北门配送点",
        "hp5": "和平里卡口",
        "hp6": None,
    }
    async with rt.db.read() as s:
        north = await s.scalar(select(Place).where(Place.name == "北门配送点"))
        gate = await s.scalar(select(Place).where(Place.name == "和平里卡口"))
    assert north is not None and gate is not None
    assert (north.kind, north.location, north.pickup_times) == (
        "point",
        "北门外空地",
        "每天 9:00-11:00, 16:00-18:00",
    )
    assert (gate.kind, gate.pickup_times) == ("checkpoint", None)

    code, out, _ = await _import(rt, GOOD)  # again: nothing changes
    assert code == 0
    assert "places:    0 created, 0 updated, 2 unchanged" in out
    assert "buildings: 0 created, 0 updated, 4 unchanged" in out

    # A building moves to another place; the pickup times change.
    moved = HEADER + "xingfu,和平里卡口,checkpoint,和平里东门,每天 8:00-20:00,hp5 xf3\n"
    code, out, _ = await _import(rt, moved)
    assert code == 0 and "places:    0 created, 1 updated, 0 unchanged" in out
    assert (await _served(rt))["xf3"] == "和平里卡口"


async def test_one_bad_line_and_nothing_is_imported(rt: Runtime) -> None:
    bad = (
        HEADER
        + "xingfu,北门配送点,point,,,xf1\n"
        + "xingfu,南门,warehouse,,,xf2\n"  # no such kind
        + "nowhere,西门,point,,,xf3\n"  # no such community
        + "xingfu,东门,point,,,xf9 xf1\n"  # no such building; xf1 already on line 2
        + "xingfu,北门配送点,point,,,\n"  # the same place twice
        + "xingfu,=HYPERLINK(1),point,,,\n"  # a formula
    )
    code, out, err = await _import(rt, bad)
    assert code == 1 and out == ""
    assert "places.csv:3: the kind 'warehouse' must be point (配送点) or checkpoint (卡口)" in err
    assert "places.csv:4: there is no community 'nowhere': import its buildings first" in err
    assert "places.csv:5: the community 'xingfu' has no building 'xf9'" in err
    assert "the building 'xf1' is already served by line 2" in err
    assert "places.csv:6: 北门配送点 is already on line 2" in err
    assert "places.csv:7:" in err and "formula" in err
    assert "nothing imported: 5 bad line(s) of 6" in err
    async with rt.db.read() as s:
        assert list(await s.scalars(select(Place))) == []
    assert set((await _served(rt)).values()) == {None}


async def test_the_status_at_a_time_is_read_from_the_history(rt: Runtime) -> None:
    now = rt.clock.now()
    async with rt.db.session() as s:
        b = await s.scalar(select(Building).where(Building.code == "xf1"))
        assert b is not None
        for status, hours in (("precaution", -48), ("sealed", -24), ("controlled", 24)):
            s.add(
                BuildingStatus(
                    building_id=b.id,
                    status=status,
                    label=status,
                    effective_at=now + timedelta(hours=hours),
                    set_by=1,
                    created_at=now,
                )
            )
        bid = b.id
    async with rt.db.read() as s:
        assert await building_status.status_at(s, bid, now - timedelta(hours=72)) is None
        assert await building_status.status_at(s, bid, now - timedelta(hours=30)) == "precaution"
        assert await building_status.status_at(s, bid, now) == "sealed"
        assert await building_status.status_at(s, bid, now + timedelta(days=2)) == "controlled"


async def test_the_command_line(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`paotui places import FILE` in process, as the operator runs it."""
    monkeypatch.setenv("PAOTUI_DATABASE__URL", rt.settings.database.url)
    good, bad = tmp_path / "places.csv", tmp_path / "bad.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(HEADER + "xingfu,北门,depot,,,xf1\n", encoding="utf-8")
    # main() runs its own event loop, as from a shell: in a thread, off this test's loop.
    assert await asyncio.to_thread(main, ["places", "import", str(bad)]) == 1
    assert "bad.csv:2:" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["places", "import", str(good)]) == 0
    assert "places:    2 created" in capsys.readouterr().out
    assert (await _served(rt))["hp5"] == "和平里卡口"


async def test_a_change_applied_late_does_not_undo_a_newer_one(rt: Runtime) -> None:
    """Set for later, then a newer one applied now: when the older one's claim comes, the
    building keeps the newer status (it is marked applied, nobody is told again)."""
    now = rt.clock.now()
    async with rt.db.session() as s:
        b = await s.scalar(select(Building).where(Building.code == "xf1"))
        assert b is not None
        old = BuildingStatus(
            building_id=b.id,
            status="controlled",
            label="管控区",
            effective_at=now - timedelta(hours=1),
            set_by=1,
            created_at=now,
        )
        s.add(old)
        b.status, b.status_since = "sealed", now
        await s.flush()
        old_id, bid = old.id, b.id
    async with rt.db.session() as s:
        assert await building_status.apply(rt, s, old_id) == 0
        assert await building_status.apply(rt, s, old_id) is None  # once
    async with rt.db.read() as s:
        b = await s.get(Building, bid)
        assert b is not None and b.status == "sealed"


async def test_the_sandbox_demo_has_a_point_and_a_checkpoint(rt: Runtime) -> None:
    from bot.seed import seed_demo_places

    async with rt.db.session() as s:
        await seed_demo_places(rt, s)
    served = await _served(rt)
    assert served["xf1"] == "幸福小区北门配送点" and served["hp6"] == "和平里东门卡口"
