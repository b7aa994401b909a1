"""Every string the code can show has a zh_CN translation with the same placeholders.

The strings are found by reading the code's syntax tree, not only with Babel's extractor,
which drops a msgid nested in another call (``_(LABELS.get(key, N_("What")))`` showed "What"
in English on every order summary): every string literal given to ``_``, ``N_``, ``P_``, a
``gettext_for(...)`` or another gettext name is collected, wherever it stands."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.pofile import read_po

from bot.i18n import P_, gettext_for, ngettext, po_path

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{\w*\}")
# The names the code gives a gettext function (``_g = gettext_for(...)``, ``tr = await
# ctx.gettext()``): a call of one of them with a string literal shows that string.
# A refusal's message and a Msg parameter are msgids too, translated when shown.
GETTEXT_NAMES = {"_", "N_", "_g", "tr", "gettext", "Refused", "Msg"}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _code_messages() -> tuple[set[str], set[tuple[str, str]]]:
    """(singular msgids, (singular, plural) pairs) of every file under bot/ and handlers/."""
    single: set[str] = set()
    plural: set[tuple[str, str]] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                f = node.func
                name = f.id if isinstance(f, ast.Name) else None
                if name == "P_" and len(node.args) == 2:
                    one, many = (_literal(a) for a in node.args)
                    assert one and many, f"{path}: P_ takes two string literals"
                    plural.add((one, many))
                    continue
                translating = name in GETTEXT_NAMES or (
                    isinstance(f, ast.Call)
                    and isinstance(f.func, ast.Name)
                    and f.func.id == "gettext_for"
                )
                text = _literal(node.args[0])
                if translating and text:
                    single.add(text)
    return single, plural


def test_code_strings_are_all_translated_to_zh_cn() -> None:
    with po_path("zh_CN").open("rb") as fh:
        catalog = read_po(fh)
    ids, plurals = _code_messages()
    assert len(ids) > 100 and plurals
    missing = sorted(m for m in ids if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], "translate these (append to messages.po): " + "; ".join(missing)
    fuzzy = sorted(m for m in ids if catalog.get(m).fuzzy)
    assert fuzzy == []
    for m in ids:
        got = catalog.get(m).string
        assert sorted(PLACEHOLDER.findall(m)) == sorted(PLACEHOLDER.findall(got)), m
    for one, many in plurals:
        entry = catalog.get(one)
        assert entry is not None and entry.pluralizable, f"no plural entry for {one!r}"
        assert entry.id == (one, many), f"the plural of {one!r} differs from the code's"
        (zh,) = entry.string  # Chinese has one form
        assert zh and sorted(PLACEHOLDER.findall(many)) == sorted(PLACEHOLDER.findall(zh)), one


def test_no_button_label_is_written_in_english() -> None:
    """A button's label is a translated string, never an English literal."""
    found = []
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("Button", "InlineKeyboardButton", "KeyboardButton")
                    and node.args
                ):
                    text = _literal(node.args[0]) or ""
                    if re.search(r"[A-Za-z]{2}", text):
                        found.append(f"{path.name}:{node.lineno} {text!r}")
    assert found == []


def test_nested_labels_are_found() -> None:
    """The summary's ✏️ labels are looked up from a table at run time: each is translated."""
    from bot.services.orders import form

    zh = gettext_for("zh_CN")
    kinds = ("groceries", "medicine", "gas", "other")
    for key in {s.key for k in kinds for s in form.steps_for(k)}:
        label = form.LABELS[key]
        assert zh(label) != label, key
    # The tables the cards and posts read by an order's values: one translated label each.
    from bot.services.orders import texts
    from models import Category, OrderStatus, Urgency

    for table, values in (
        (texts.CATEGORY, Category),
        (texts.URGENCY, Urgency),
        (texts.NEEDED, Urgency),
        (texts.STATUS, OrderStatus),
    ):
        for value in values:
            assert zh(table[value.value]) != table[value.value], value


def test_plurals_follow_the_count() -> None:
    msg = P_("{n} task waiting.", "{n} tasks waiting.")
    en, zh = gettext_for("en"), gettext_for("zh_CN")
    assert ngettext(en, msg, 1).format(n=1) == "1 task waiting."
    assert ngettext(en, msg, 3).format(n=3) == "3 tasks waiting."
    from bot.errors import Refused

    cap = Refused(
        P_(
            "You are already running {n} task. Finish it first, so others can help.",
            "You are already running {n} tasks. Finish one first, so others can help.",
        ),
        n=1,
    )
    assert cap.render(en).startswith("You are already running 1 task.")
    assert cap.render(zh).startswith("您已经在跑 1 个任务了")


def test_english_is_the_source_and_chinese_the_default() -> None:
    assert gettext_for("en")("📝 Order") == "📝 Order"
    assert gettext_for(None)("📝 Order") == "📝 下单"
    assert gettext_for("zh-hans")("📝 Order") == "📝 下单"
    assert gettext_for("fr")("📝 Order") == "📝 下单"  # unsupported: the default
