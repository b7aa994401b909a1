"""A day as people type it (12月8日, 12-08, 7天), for the questions that ask for one."""

from __future__ import annotations

import re
from datetime import date, timedelta


def until_typed(text: str, today: date) -> str:
    """A last day typed forgivingly, as an ISO day: "2026-12-08", "12-08", "12/8", "12月8日",
    "12.8", "7天" or "7" (days from today). What it cannot read is passed on as typed, for the
    caller to refuse clearly (home isolation's end, a repeat's last day)."""
    t = text.strip().replace("号", "日")
    if m := re.fullmatch(r"(\d{1,3})\s*(天|日|days?|d)?", t, re.IGNORECASE):
        if m.group(2) not in ("日",) and int(m.group(1)) <= 120:
            return (today + timedelta(days=int(m.group(1)))).isoformat()
    if m := re.fullmatch(r"(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", t):
        year = int(m.group(1)) if m.group(1) else today.year
        try:
            day = date(year, int(m.group(2)), int(m.group(3)))
        except ValueError:
            return text
        if m.group(1) is None and day < today - timedelta(days=180):
            day = day.replace(year=year + 1)  # "1月5日" said in December: next year
        return day.isoformat()
    return text
