"""Numbers as people type them in Chinese: "八十", "一百五" (150), "两千", "三百零五"."""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def chinese_int(text: str) -> int | None:
    """The whole number written in Chinese numerals; None if ``text`` is not one."""
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        return None
    total = section = 0
    digit: int | None = None
    last_unit = 1
    for ch in text:
        if ch in "零〇":  # a gap ("三百零五"): the digit after it is ones
            continue
        if ch in _DIGITS:
            if digit is not None:  # two digits in a row ("五五") is no number said aloud
                return None
            digit = _DIGITS[ch]
            continue
        unit = _UNITS[ch]
        if unit == 10000:
            total += (section + (digit or 0)) * unit
            section = 0
        else:
            section += (1 if digit is None else digit) * unit
        digit, last_unit = None, unit
    if digit is not None:
        # Said aloud, "一百五" is 150 and "两千五" 2,500: a last digit right after 百 or 千
        # counts in the unit below; after 零 ("一百零五") it is ones.
        section += digit * last_unit // 10 if last_unit >= 100 and text[-2] in _UNITS else digit
    return total + section
