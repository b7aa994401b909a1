"""Every string the code can show has a zh_CN translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import gettext_for, po_path

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{\w*\}")


def _msgids() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder,
            method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None},
        ):
            if isinstance(message, str) and message:
                found.add(message)
    return found


def test_code_strings_are_all_translated_to_zh_cn() -> None:
    with po_path("zh_CN").open("rb") as fh:
        catalog = read_po(fh)
    ids = _msgids()
    assert len(ids) > 100
    missing = sorted(m for m in ids if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], "run `make i18n` and translate: " + "; ".join(missing)
    fuzzy = sorted(m for m in ids if catalog.get(m).fuzzy)
    assert fuzzy == []
    for m in ids:
        got = catalog.get(m).string
        assert sorted(PLACEHOLDER.findall(m)) == sorted(PLACEHOLDER.findall(got)), m


def test_english_is_the_source_and_chinese_the_default() -> None:
    assert gettext_for("en")("📝 Order") == "📝 Order"
    assert gettext_for(None)("📝 Order") == "📝 下单"
    assert gettext_for("zh-hans")("📝 Order") == "📝 下单"
    assert gettext_for("fr")("📝 Order") == "📝 下单"  # unsupported: the default
