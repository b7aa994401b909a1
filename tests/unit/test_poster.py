"""The building posters print Chinese on a machine without Chinese fonts: the font comes with
paotui and is embedded in the PDF. Rendered with poppler's pdftoppm (installed by
scripts/ensure-poppler.sh when missing) under a font configuration that knows no fonts at all,
as a print shop's computer might: a character the PDF does not carry would be drawn as
nothing or as a box, the same box for every character."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.services import poster_font, setup
from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DPI = 24  # an A4 page is 198 x 280 pixels: enough to tell characters apart, and fast


@cache
def _pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    if found:
        return found
    # One install at a time: the test workers of a parallel run would race for apt's lock.
    with open(Path(tempfile.gettempdir()) / "paotui-ensure-poppler.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            ["sh", str(ROOT / "scripts" / "ensure-poppler.sh")],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0 or not shutil.which("pdftoppm"):
        pytest.skip(
            f"pdftoppm (poppler-utils) is missing and could not be installed: {done.stderr}"
        )
    return str(shutil.which("pdftoppm"))


def _render(pdf: bytes, tmp: Path) -> list[list[int]]:
    """The first page as rows of grey levels (0 black .. 255 white), drawn with no system
    font available: only what the PDF embeds can be drawn."""
    conf = tmp / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><fontconfig></fontconfig>\n', encoding="utf-8")
    src = tmp / "poster.pdf"
    src.write_bytes(pdf)
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "FONTCONFIG_PATH": str(tmp)}
    out = subprocess.run(
        [_pdftoppm(), "-gray", "-r", str(DPI), "-f", "1", "-l", "1", str(src)],
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    return _pgm(out)


def _pgm(data: bytes) -> list[list[int]]:
    """A binary PGM (P5, 8 bits) as rows."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5" and fields[3] == b"255", fields
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 : pos + 1 + width * height]
    return [list(pixels[r * width : (r + 1) * width]) for r in range(height)]


def _band(page: list[list[int]], top: float, bottom: float) -> list[list[int]]:
    """The rows between two fractions of the page's height (0 is the top)."""
    return page[int(len(page) * top) : int(len(page) * bottom)]


def _ink(rows: list[list[int]]) -> int:
    return sum(1 for row in rows for v in row if v < 128)


def _poster(compound: str, building: str = "1栋", font: str | None = None) -> bytes:
    return setup.posters_pdf(
        [setup.Poster("幸福社区", compound, building, "xf1")], "paotui_bot", font
    )


def test_the_font_comes_with_paotui_and_is_embedded() -> None:
    """The PDF carries its font, with the glyphs of the poster's Chinese."""
    pdf = PdfReader(io.BytesIO(_poster("幸福小区")))
    fonts = pdf.pages[0]["/Resources"]["/Font"]
    embedded = []
    for ref in fonts.values():
        font = ref.get_object()
        descriptor = font.get("/FontDescriptor")
        if descriptor is None and "/DescendantFonts" in font:
            descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
        if descriptor is not None:
            descriptor = descriptor.get_object()
            if "/FontFile2" in descriptor or "/FontFile3" in descriptor:
                embedded.append(str(font["/BaseFont"]))
    assert embedded, "no font is embedded: the posters depend on the printer's fonts"
    assert all(name.split("+")[-1].startswith("WenQuanYi") for name in embedded), embedded
    # Every font the page names is embedded (no Helvetica or STSong left to the viewer).
    assert len(embedded) == len(fonts)
    text = pdf.pages[0].extract_text()
    assert "幸福小区" in text and setup.POSTER_TEXT in text


def test_the_chinese_is_drawn_without_system_fonts(tmp_path: Path) -> None:
    """Rendered where no font is installed, the names are drawn: two compounds' names give
    different ink (boxes, or nothing, would be the same for both), and there is ink at all."""
    one = _render(_poster("幸福小区"), tmp_path)
    other = _render(_poster("和平里苑"), tmp_path)
    # The compound's name: the band from 20% to 30% of the page's height (75 mm from the top).
    a, b = _band(one, 0.20, 0.30), _band(other, 0.20, 0.30)
    assert _ink(a) > 40 and _ink(b) > 40, "nothing drawn where the compound's name is"
    differing = sum(
        1
        for ra, rb in zip(a, b, strict=True)
        for x, y in zip(ra, rb, strict=True)
        if abs(x - y) > 96
    )
    assert differing > 40, "different names look the same: boxes instead of characters"
    # The rest of the page is the same poster.
    assert _band(one, 0.40, 1.0) == _band(other, 0.40, 1.0)


def test_a_font_that_cannot_be_used_is_refused_with_the_reason(tmp_path: Path) -> None:
    # PostScript (CFF) outlines, as Noto Sans CJK's .otf: reportlab cannot embed them.
    cff = tmp_path / "NotoSansCJKsc-Regular.otf"
    cff.write_bytes(b"OTTO" + bytes(8))
    with pytest.raises(poster_font.FontError, match=r"PostScript \(CFF\) outlines"):
        _poster("幸福小区", font=str(cff))
    # A TrueType font without Chinese: it would print boxes.
    import reportlab

    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    with pytest.raises(poster_font.FontError, match="no Chinese characters"):
        _poster("幸福小区", font=str(vera))
    with pytest.raises(poster_font.FontError, match="does not exist"):
        _poster("幸福小区", font=str(tmp_path / "missing.ttf"))
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    with pytest.raises(poster_font.FontError, match="cannot be used"):
        _poster("幸福小区", font=str(junk))


async def test_paotui_qr_says_why_a_font_cannot_be_used(
    rt: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`paotui qr --font X.otf` (the README's old advice): one line with the reason and exit
    status 2, no traceback, no file."""
    from bot.runtime import Runtime

    assert isinstance(rt, Runtime)
    monkeypatch.setenv("PAOTUI_DATABASE__URL", rt.settings.database.url)
    cff = tmp_path / "NotoSansCJK-Regular.ttc"
    cff.write_bytes(b"OTTO" + bytes(8))
    out = tmp_path / "posters.pdf"
    argv = ["qr", "--out", str(out), "--bot-username", "paotui_bot", "--font", str(cff)]
    assert await asyncio.to_thread(main, argv) == 2
    err = capsys.readouterr().err
    assert "PostScript (CFF) outlines" in err and "Traceback" not in err
    assert not out.exists()
    # Without --font: the packaged font, one page per demo building.
    argv = ["qr", "--out", str(out), "--bot-username", "paotui_bot"]
    assert await asyncio.to_thread(main, argv) == 0
    assert len(PdfReader(out).pages) == 5
