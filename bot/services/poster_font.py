"""The posters' font: one that is embedded in the PDF, so a poster prints the same on a machine
(or at a print shop) without Chinese fonts. The default is WenQuanYi Micro Hei, installed with
paotui as a Python package (``paperang-p2-fonts-cjk``); `paotui qr --font FILE` takes another.

reportlab embeds TrueType outlines only: a font with PostScript (CFF) outlines, such as the
Noto Sans CJK .otf/.ttc files, is refused with a clear reason (`FontError`), never a traceback.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

DEFAULT_PACKAGE = "paperang_p2_fonts_cjk"
DEFAULT_FILE = "fonts/wqy-microhei.ttc"
DEFAULT_NAME = "WenQuanYi Micro Hei"
# Characters every poster prints: a font without them would print boxes.
MUST_DRAW = "扫码登记，足不出户请志愿者跑腿社区小栋"


class FontError(Exception):
    """A font that cannot be used for the posters; the message says why and what to do."""


def default_font_file() -> Path:
    """The packaged font's file."""
    path = files(DEFAULT_PACKAGE).joinpath(DEFAULT_FILE)
    return Path(str(path))


@lru_cache(maxsize=4)
def register(font_file: str | None = None) -> str:
    """Register the posters' font with reportlab (once per file: reading a CJK font takes a
    tenth of a second) and return the name to draw with. FontError when it cannot be used."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path = Path(font_file) if font_file else default_font_file()
    if not path.is_file():
        what = "the built-in font" if font_file is None else "the font"
        raise FontError(f"{what} {path} does not exist or is not a file")
    name = "Poster-" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    try:
        # A collection (.ttc): its first font, the regular face.
        font = TTFont(name, str(path), subfontIndex=0)
    except TTFError as exc:
        raise FontError(_why(path, str(exc))) from None
    except OSError as exc:
        raise FontError(f"cannot read the font {path}: {exc.strerror or exc}") from None
    missing = [c for c in MUST_DRAW if ord(c) not in font.face.charToGlyph]
    if missing:
        raise FontError(
            f"the font {path} has no Chinese characters (none for {''.join(missing[:6])}…): "
            "the posters would print boxes. Give a font with Chinese (Simplified) characters, "
            f"or leave out --font to use {DEFAULT_NAME}, which comes with paotui."
        )
    pdfmetrics.registerFont(font)
    return name


def _why(path: Path, reason: str) -> str:
    if "postscript outlines" in reason.lower():
        return (
            f"the font {path} has PostScript (CFF) outlines, which cannot be embedded in the "
            "PDF (Noto Sans CJK and Source Han Sans are such fonts). Give a font with TrueType "
            f"outlines (.ttf, or .ttc), or leave out --font to use {DEFAULT_NAME}, which comes "
            "with paotui."
        )
    return f"the font {path} cannot be used ({reason}): give a TrueType font (.ttf or .ttc)"
