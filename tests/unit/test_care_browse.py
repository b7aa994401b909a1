"""The home-isolation end as staff type it, read forgivingly (bot/services/care_browse.py)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.services.typed_days import until_typed

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2026-12-08", "2026-12-08"),
        ("12-08", "2026-12-08"),
        ("12/8", "2026-12-08"),
        ("12月8日", "2026-12-08"),
        ("12.8", "2026-12-08"),
        ("2027年1月5日", "2027-01-05"),
        ("1月5日", "2027-01-05"),  # said in December: next year
        ("7天", "2026-12-08"),
        ("7", "2026-12-08"),
        ("14 days", "2026-12-15"),
    ],
)
def test_a_day_typed_in_many_ways(typed: str, day: str) -> None:
    assert until_typed(typed, TODAY) == day


@pytest.mark.parametrize("typed", ["13月40日", "明天下午", "清除"])
def test_what_cannot_be_read_is_passed_on_to_be_refused(typed: str) -> None:
    assert until_typed(typed, TODAY) == typed
