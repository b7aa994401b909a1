"""Money as the runner types it, kept as integer fen (分) so SQLite and PostgreSQL agree.

"35.5", "¥35.50", "35.5元", "３５．５" all mean 3550 fen, "八十块" and "大概80块钱" 8000; a
negative amount, more than two decimals, or more than MAX_FEN is refused with a message saying
what to type.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from bot.errors import Refused
from bot.i18n import N_
from bot.services.cn_numbers import chinese_int

# A sane ceiling for one errand (an imported drug, a large gas top-up): ¥20,000.
MAX_FEN = 2_000_000
MAX_INPUT_CHARS = 32

NOT_AN_AMOUNT = N_(
    "That is not an amount I understand. Please type a number such as 35.5 (0 if nothing to pay)."
)
NEGATIVE = N_("The amount cannot be negative. Please type what you spent, such as 35.5.")
TOO_PRECISE = N_("At most two decimals (fen), please, such as 35.50.")
TOO_MUCH = N_("That is more than ¥{max}. Please check the amount and type it again.")

# What is said around an amount: "¥80", "80块钱", "八十元左右", "最多一百".
_AROUND = re.compile(
    r"^(?:¥|rmb|cny|大概|大约|最多|不超过)+|(?:块钱|块|元|rmb|cny|yuan|左右|以内|以下)+$"
)
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def parse_fen(text: str) -> int:
    """The amount in fen, or Refused with what to type instead."""
    # NFKC folds full-width digits, points and the full-width yen sign (￥) to ASCII and ¥.
    s = unicodedata.normalize("NFKC", text or "").strip().lower().replace(" ", "")
    s = s.replace("。", ".")
    if not s or len(s) > MAX_INPUT_CHARS:
        raise Refused(NOT_AN_AMOUNT)
    negative = s[0] in "-−"
    if negative:
        s = s[1:]
    if s.startswith(("¥-", "¥−")):  # "¥-5"
        negative, s = True, s[2:]
    s = _AROUND.sub("", s)
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    said = chinese_int(s)  # "八十", "一百五"
    if said is not None:
        s = str(said)
    if not _NUMBER.fullmatch(s):
        raise Refused(NOT_AN_AMOUNT)
    try:
        value = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise Refused(NOT_AN_AMOUNT) from None
    if negative and value != 0:
        raise Refused(NEGATIVE)
    fen = value * 100
    if fen != fen.to_integral_value():
        raise Refused(TOO_PRECISE)
    if fen > MAX_FEN:
        raise Refused(TOO_MUCH, max=yuan(MAX_FEN))
    return int(fen)


def yuan(fen: int) -> str:
    """3550 -> "35.50"; 2000000 -> "20,000.00"."""
    return f"{fen // 100:,}.{fen % 100:02d}"
