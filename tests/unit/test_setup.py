"""Setting up a community from a CSV file (all or nothing, every bad line reported) and the
building posters of `paotui qr`."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.errors import Refused
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.seed import ensure_admins
from bot.services import setup
from cli.main import main
from cli.setup import setup_import
from models import Building, Community, Compound, Grid
from tests.factories import STAFF

HEADER = "community,community_code,grid,compound,building,building_code,units\n"
GOOD = (
    "\ufeff"
    + HEADER
    + "阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4\n"
    + "阳光社区,yangguang,第一网格,阳光花园,2栋,yg2,\n"
    + "阳光社区,yangguang,第二网格,桃李苑,A座,tl_A,6\n"
    # The demo community's building, same place and code: units changed.
    + "幸福社区,xingfu,第一网格,幸福小区,1栋,xf1,5\n"
)


async def _import(rt: Runtime, text: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await setup_import(rt.settings, text, "setup.csv", out, err)
    return code, out.getvalue(), err.getvalue()


async def _buildings(rt: Runtime) -> list[tuple[str, str, str, str, str, int]]:
    async with rt.db.read() as s:
        rows = await s.execute(
            select(Community.code, Grid.name, Compound.name, Building.name, Building.code)
            .add_columns(Building.units)
            .join(Compound, Compound.id == Building.compound_id)
            .join(Grid, Grid.id == Building.grid_id)
            .join(Community, Community.id == Compound.community_id)
            .order_by(Building.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def _count(rt: Runtime, table: type) -> int:
    async with rt.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_good_file_then_again(rt: Runtime) -> None:
    code, out, err = await _import(rt, GOOD)
    assert code == 0, err
    assert "communities: 1 created, 0 updated, 1 unchanged" in out
    assert "grids:       2 created, 0 updated, 1 unchanged" in out
    assert "compounds:   2 created, 0 updated, 1 unchanged" in out
    assert "buildings:   3 created, 1 updated, 0 unchanged" in out
    rows = await _buildings(rt)
    assert rows[-3:] == [
        ("yangguang", "第一网格", "阳光花园", "1栋", "yg1", 4),
        ("yangguang", "第一网格", "阳光花园", "2栋", "yg2", 1),
        ("yangguang", "第二网格", "桃李苑", "A座", "tl_A", 6),
    ]
    assert ("xingfu", "第一网格", "幸福小区", "1栋", "xf1", 5) in rows
    async with rt.db.read() as s:
        yg = await s.scalar(select(Community).where(Community.code == "yangguang"))
        assert yg is not None and yg.name == "阳光社区" and yg.timezone == rt.timezone
        grids = (await s.scalars(select(Grid.name).where(Grid.community_id == yg.id))).all()
        assert sorted(grids) == ["第一网格", "第二网格"]
    counts = [await _count(rt, t) for t in (Community, Grid, Compound, Building)]

    code, out, err = await _import(rt, GOOD)
    assert code == 0, err
    assert "communities: 0 created, 0 updated, 2 unchanged" in out
    assert "buildings:   0 created, 0 updated, 4 unchanged" in out
    assert [await _count(rt, t) for t in (Community, Grid, Compound, Building)] == counts
    assert await _buildings(rt) == rows


async def test_a_building_moves_to_another_grid(rt: Runtime) -> None:
    text = HEADER + "幸福社区,xingfu,第二网格,幸福小区,1栋,xf1,3\n"
    code, out, _err = await _import(rt, text)
    assert code == 0 and "buildings:   0 created, 1 updated, 0 unchanged" in out
    assert ("xingfu", "第二网格", "幸福小区", "1栋", "xf1", 3) in await _buildings(rt)


BAD = (
    HEADER
    + "阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4\n"  # 2: good
    + "阳光社区,yangguang,,阳光花园,2栋,yg2,3\n"  # 3: no grid
    + "阳光社区,yangguang,第一网格,阳光花园,3栋,yg3,zero\n"  # 4: units
    + "阳光社区,yangguang,第一网格,阳光花园,4栋,yg1,2\n"  # 5: code again
    + "阳光社区,yangguang,第一网格,阳光花园,5栋,xf2,2\n"  # 6: code of the demo's 2栋
    + "阳光社区,yangguang,第一网格,阳光花园,6栋,yg-6,0\n"  # 7: bad code and units
    + "\n"
    + "晴天社区,yangguang,第一网格,阳光花园,7栋,yg7,1\n"  # 9: another name for the code
    + "幸福社区,xingfu,第一网格,幸福小区,2栋,xf2new,1\n"  # 10: that building has a code
)


async def test_bad_lines_import_nothing(rt: Runtime) -> None:
    before = await _buildings(rt)
    code, out, err = await _import(rt, BAD)
    assert code == 1 and out == ""
    bad = dict(line.split(": ", 1) for line in err.splitlines()[:-1])
    assert sorted(bad) == [f"setup.csv:{n}" for n in (10, 3, 4, 5, 6, 7, 9)]
    assert "the grid is empty" in bad["setup.csv:3"]
    assert "the units 'zero'" in bad["setup.csv:4"]
    assert "'yg1' is already on line 2" in bad["setup.csv:5"]
    assert "'xf2' is taken by 幸福小区 2栋" in bad["setup.csv:6"]
    assert "building_code 'yg-6'" in bad["setup.csv:7"] and "units '0'" in bad["setup.csv:7"]
    assert "is '阳光社区' on line 2" in bad["setup.csv:9"]
    assert "already has the code 'xf2'" in bad["setup.csv:10"]
    assert err.splitlines()[-1] == "nothing imported: 7 bad line(s) of 8"
    assert await _buildings(rt) == before
    assert await _count(rt, Community) == 1


async def test_the_bot_import_within_the_senders_community(rt: Runtime) -> None:
    """The bot's import: community staff name their own community only; a line naming another
    is one more bad line, reported with the others."""
    async with rt.db.session() as s:
        await ensure_admins(s, rt.clock, [9100])
    async with rt.db.read() as s:
        assert await setup.allowed_codes(s, STAFF) == {"xingfu"}
        assert await setup.allowed_codes(s, 9100) is None  # an admin: any community
        with pytest.raises(Refused) as refused:
            await setup.allowed_codes(s, 424242)
        assert refused.value.message == setup.NOT_ALLOWED
    before = await _buildings(rt)
    async with rt.db.session() as s:
        result = await setup.import_csv(rt, s, BAD, {"xingfu"})
    assert [line for line, _reason in result.errors] == [2, 3, 4, 5, 5, 6, 6, 7, 9, 9, 10]
    assert dict(result.errors)[2] == "the community yangguang is not yours"
    assert result.rows == 8 and await _buildings(rt) == before
    zh = gettext_for("zh_CN")
    async with rt.db.session() as s:
        result = await setup.import_csv(rt, s, BAD, {"xingfu"}, _=zh)
    assert dict(result.errors)[2] == zh(setup.NOT_YOURS).format(code="yangguang")
    assert zh(setup.NOT_YOURS) != setup.NOT_YOURS
    async with rt.db.session() as s:  # an admin: the same bad lines as the command line's
        result = await setup.import_csv(rt, s, BAD)
    assert [line for line, _reason in result.errors] == [3, 4, 5, 6, 7, 9, 10]


async def test_the_header_is_needed(rt: Runtime) -> None:
    code, _out, err = await _import(rt, "阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4\n")
    assert code == 1 and "setup.csv:1: the first line must be the header" in err
    code, _out, err = await _import(rt, "community,grid,building\n")
    assert code == 1 and "missing: community_code, compound, building_code, units" in err
    code, _out, err = await _import(rt, "")
    assert code == 1 and "empty" in err
    assert await _count(rt, Community) == 1


def test_start_link() -> None:
    assert setup.start_link("paotui_bot", "yg1") == "https://t.me/paotui_bot?start=b_yg1"
    assert setup.start_link("@paotui_bot", "tl_A") == "https://t.me/paotui_bot?start=b_tl_A"
    assert setup.valid_bot_username("@paotui_bot") and not setup.valid_bot_username("a b")


def _pages(pdf: bytes) -> tuple[int, str]:
    try:
        from pypdf import PdfReader
    except ImportError:  # count the page objects instead
        return pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page "), ""
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


async def test_the_command_line(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paotui import` and `paotui qr` in process, as the operator runs them."""
    monkeypatch.setenv("PAOTUI_DATABASE__URL", rt.settings.database.url)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")
    # main() runs its own event loop, as from a shell: in a thread, off this test's loop.
    assert await asyncio.to_thread(main, ["import", str(bad)]) == 1
    assert await asyncio.to_thread(main, ["import", str(good)]) == 0
    assert await _count(rt, Building) == 8

    pdf = tmp_path / "yg.pdf"
    argv = ["qr", "--community", "yangguang", "--out", str(pdf), "--bot-username", "paotui_bot"]
    assert await asyncio.to_thread(main, argv) == 0
    pages, text = _pages(pdf.read_bytes())
    assert pages == 3
    if text:
        for code in ("yg1", "yg2", "tl_A"):
            assert f"https://t.me/paotui_bot?start=b_{code}" in text
        assert "b_xf1" not in text
        assert "阳光花园" in text and "A座" in text and setup.POSTER_TEXT in text
    everything = tmp_path / "all.pdf"
    argv = ["qr", "--out", str(everything), "--bot-username", "paotui_bot"]
    assert await asyncio.to_thread(main, argv) == 0
    assert _pages(everything.read_bytes())[0] == 8
    # No username: said so, nothing written.
    monkeypatch.delenv("PAOTUI_BOT__USERNAME", raising=False)
    assert await asyncio.to_thread(main, ["qr", "--out", str(tmp_path / "x.pdf")]) == 2
    assert not (tmp_path / "x.pdf").exists()
    assert (
        await asyncio.to_thread(main, ["qr", "--community", "nope", "--bot-username", "abcde"]) == 1
    )
    assert pdf.stat().st_size > 0


UNSAFE = (
    HEADER
    + "阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4\n"  # 2: good
    + "阳光社区,yangguang,第一\x00网格,阳光花园,2栋,yg2,3\n"  # 3: NUL (PostgreSQL refuses it)
    + '阳光社区,yangguang,第一网格,"=HYPERLINK(""http://x"",""看"")",3栋,yg3,1\n'  # 4: formula
    + "阳光社区,yangguang,第一网格,阳光花园,@4栋,yg4,1\n"  # 5: formula
    + "阳光社区,yangguang,第一网格,阳光花园,5\x07栋,yg5,1\n"  # 6: a bell
    + "阳光社区,yangguang,第一网格,阳光花园,"
    + "楼" * 140_000
    + ",yg6,1\n"  # 7: over 128 K
    + "阳光社区,yangguang,第一网格,阳光花园,8栋,yg8,1\n"  # 8: not read after 7
)


async def test_control_characters_formulas_and_huge_cells_are_line_errors(rt: Runtime) -> None:
    """Each is a clear error naming its line; nothing is imported (no traceback, no NUL
    stored for PostgreSQL to choke on, no formula waiting in the ledger)."""
    before = await _buildings(rt)
    code, out, err = await _import(rt, UNSAFE)
    assert code == 1 and out == ""
    bad = dict(line.split(": ", 1) for line in err.splitlines()[:-1])
    assert sorted(bad) == [f"setup.csv:{n}" for n in (3, 4, 5, 6, 7)]
    assert bad["setup.csv:3"].startswith("the grid contains a control character (U+0000)")
    assert "the compound '=HYPERLINK(" in bad["setup.csv:4"]
    assert "a name cannot begin with = + - or @" in bad["setup.csv:4"]
    assert bad["setup.csv:5"].startswith("the building '@4栋' begins with '@'")
    assert "control character (U+0007)" in bad["setup.csv:6"]
    assert "longer than 131,072 characters" in bad["setup.csv:7"]
    assert "楼楼楼" not in err  # the huge cell is not echoed back
    assert err.splitlines()[-1] == "nothing imported: 5 bad line(s) of 6"
    assert await _buildings(rt) == before


async def test_the_command_line_names_the_unsafe_line(rt: Runtime, tmp_path: Path) -> None:
    """`paotui import` on a file with a NUL in a name: exit 1 and the line named."""
    before = await _count(rt, Building)
    path = tmp_path / "nul.csv"
    path.write_text(
        HEADER + "阳光社区,yangguang,第一网格,阳光花园,1\x00栋,yg1,4\n", encoding="utf-8"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "import",
        str(path),
        env={**os.environ, "PAOTUI_DATABASE__URL": rt.settings.database.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await proc.communicate()
    assert proc.returncode == 1
    assert f"{path}:2: the building contains a control character (U+0000)" in err.decode()
    assert await _count(rt, Building) == before


async def test_a_community_hotline_from_the_optional_column(rt: Runtime) -> None:
    """The hotline column (optional: older files import as before) sets the community's
    hotline from any of its lines; lines of one community that disagree are refused."""
    header = HEADER.rstrip("\n") + ",hotline\n"
    text = (
        header
        + "阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4,\n"
        + "阳光社区,yangguang,第一网格,阳光花园,2栋,yg2,,0371-6666 1234\n"
        + "幸福社区,xingfu,第一网格,幸福小区,1栋,xf1,3,\n"
    )
    code, out, err = await _import(rt, text)
    assert code == 0, err
    assert "communities: 1 created, 0 updated, 1 unchanged" in out

    async def hotlines() -> dict[str, str | None]:
        async with rt.db.read() as s:
            return dict((await s.execute(select(Community.code, Community.hotline))).all())

    # The demo's own stays: this file names none for it.
    assert await hotlines() == {"xingfu": "0371-12345678", "yangguang": "0371-6666 1234"}

    changed = header + "幸福社区,xingfu,第一网格,幸福小区,1栋,xf1,3,12345\n"
    code, out, err = await _import(rt, changed)
    assert code == 0 and "communities: 0 created, 1 updated, 0 unchanged" in out, err
    assert (await hotlines())["xingfu"] == "12345"

    bad = (
        header
        + "阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4,110\n"
        + "阳光社区,yangguang,第一网格,阳光花园,2栋,yg2,,120\n"
        + "幸福社区,xingfu,第一网格,幸福小区,1栋,xf1,3,call us\n"
    )
    code, out, err = await _import(rt, bad)
    assert code == 1
    assert "setup.csv:3: the hotline of 'yangguang' is '110' on line 2" in err
    assert "setup.csv:4: the hotline 'call us' must be a phone number" in err
    assert (await hotlines())["yangguang"] == "0371-6666 1234"
