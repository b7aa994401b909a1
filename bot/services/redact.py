"""Masking contact details in free text that others will see (DESIGN rule 6).

A resident's description of an errand ("2斤鸡蛋, 一瓶酱油") is shown in the grid's group;
what she may also have typed into it (a phone number, her room, a WeChat id) must not be.
``redact`` keeps the text readable and replaces each contact detail with ``***``.

Detection runs on a *shadow* of the text, one character for each character of the text, in
which every way of writing a digit is a plain 0-9: full-width, circled and superscript digits
(NFKC), Chinese numerals (一二三…零〇两, 壹贰叁…), and the letters O, o, l, I, | where they stand
next to digits (138OO138OOO). Zero-width characters are dropped first. A span found in the
shadow is masked at the same place in the text, so the rest reads exactly as it was written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MASK = "***"

# U+200B-U+200D (zero-width space, non-joiner, joiner), U+2060 (word joiner), U+FEFF (BOM),
# U+00AD (soft hyphen): invisible, used to break up a number so a filter misses it.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_CHINESE_DIGITS = {
    **dict(zip("零〇一二三四五六七八九", "00123456789", strict=True)),
    "两": "2",
    "幺": "1",  # how 1 is said in a phone number
    **dict(zip("壹贰叁肆伍陆柒捌玖", "123456789", strict=True)),
    "貳": "2",
    "參": "3",
    "陸": "6",
}
# Letters that pass for digits, where they touch a digit (not inside a word: 500ml stays).
_LOOKALIKE = re.compile(r"(?<=\d)[OolI|]+(?![A-Za-z])|(?<![A-Za-z])[OolI|]+(?=\d)")
_AS_DIGIT = str.maketrans("OolI|", "00111")

# Seven or more digits, whatever stands between them (up to 4 characters that are neither
# letters nor digits: spaces, . / _ , ， – — · and so on; not a colon, so 10:00-12:00 stays).
# A phone number, an ID card, a bank card, an account; never an amount or a quantity.
_LONG_NUMBER = r"\d(?:(?:[^\w:：]|_){0,4}\d){6,}"
# ... except a date written with digits (2026-12-01, 2026.12.1).
_DATE = re.compile(r"(?:19|20)\d\d([-./])\d{1,2}\1\d{1,2}")
# Where someone lives. The group post names the compound and the building itself, from the
# form's structured answers; a description needs neither.
_ROOM = "|".join(
    (
        # 3栋2单元501室, 3号楼2单元501, 3幢 2 单元 501 号
        r"\d+\s*(?:栋|幢|座|号楼)\s*\d+\s*单元(?:\s*[A-Za-z]?\d+\s*(?:室|号|房间?)?)?",
        r"\d+\s*单元\s*[A-Za-z]?\d+\s*(?:室|号|房间?)?",  # 2单元501
        r"(?:门牌|房号|房间)号?\s*(?:是|为)?\s*[:：]?\s*[A-Za-z]?\d+",  # 门牌501, 房号：501
        r"[A-Za-z]?\d+\s*(?:室|房间)",  # 501室, B501房间
        r"(?<!\d)\d{3,}\s*(?:号|房)(?!楼)",  # 501号 (but 3号柜, 12月2号 stay)
        r"(?<!\d)\d{1,3}\s*(?:楼|层)(?!道)",  # 5楼, 12层
        r"(?<![\d:.-])\d{1,3}\s*[-－]\s*\d{1,2}\s*[-－]\s*\d{3,4}(?![\d:])",  # 1-2-301
        r"(?<![\d:.-])\d{1,3}\s*[-－]\s*\d{3,4}(?![\d:.-])",  # 2-301 (not 8-12, 10:00-12:00)
    )
)
# A WeChat or QQ id after the word that announces it: 加微信 zhou_ayi_1960, 微信号：x, vx x,
# QQ 12345, wx: x. The word stays (the reader knows something was there), the id goes.
_HANDLE = (
    r"(?:微信号?|微\s*信|薇信|威信|V信|v信|vx|wx|weixin|wechat|QQ号?|qq号?|扣扣|企鹅号?)"
    r"\s*(?:号码?|是|为)?\s*[:：=]?\s*"
)
_HANDLE_ID = r"[A-Za-z0-9][A-Za-z0-9_.\-]{3,}"
_EMAIL = r"[A-Za-z0-9._%+\-]+\s*(?:@|＠|\(at\)|\[at\])\s*[A-Za-z0-9\-]+(?:\s*\.\s*[A-Za-z0-9\-]+)+"

_PATTERNS = re.compile("|".join(f"(?:{p})" for p in (_EMAIL, _ROOM)), re.IGNORECASE)
_NUMBERS = re.compile(_LONG_NUMBER)
_HANDLES = re.compile(f"(?<![A-Za-z])(?:{_HANDLE})({_HANDLE_ID})", re.IGNORECASE)


def clean(text: str) -> str:
    """The text without invisible characters (what is masked, and what is shown)."""
    return text.translate(_INVISIBLE)


def shadow(text: str) -> str:
    """One character per character of ``text`` (already ``clean``): NFKC where that gives one
    character, every digit as 0-9 (see the module's docstring)."""
    out = []
    for ch in text:
        if ch in _CHINESE_DIGITS:
            out.append(_CHINESE_DIGITS[ch])
            continue
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm if len(norm) == 1 else ch)
    return _LOOKALIKE.sub(lambda m: m.group().translate(_AS_DIGIT), "".join(out))


def spans(text: str, known: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Where the contact details are in ``text`` (already ``clean``): sorted, merged spans.
    ``known``: strings to mask wherever they stand alone (the person's own name, room)."""
    sh = shadow(text)
    found = [m.span() for m in _PATTERNS.finditer(sh)]
    found += [m.span() for m in _NUMBERS.finditer(sh) if not _DATE.fullmatch(m.group())]
    found += [m.span(1) for m in _HANDLES.finditer(sh)]
    for value in known:
        value = shadow(clean(value)).strip()
        if len(value) < (3 if value.isdigit() else 2):
            continue  # a short name or room number would mask ordinary words and quantities
        # A number must stand alone (room 502 is not in 1502 or #502); a name may not.
        edge = r"(?<![\d#])" if value[0].isdigit() else ""
        tail = r"(?!\d)" if value[-1].isdigit() else ""
        found += [m.span() for m in re.finditer(edge + re.escape(value) + tail, sh)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every contact detail replaced by ``***``; the rest as it was written."""
    text = clean(text)
    out, last = [], 0
    for start, end in spans(text, known):
        out += [text[last:start], MASK]
        last = end
    out.append(text[last:])
    return "".join(out)
