"""The repeat's rule: 每月 29-31 号 falls on the last day of a shorter month (never skipped),
and a household's repeat of a phone order is set only by staff covering it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import repeats
from models import Order, Resident
from tests.factories import STAFF, VOLUNTEERS_1
from tests.unit.test_caps_concurrent import _order, _resident

TZ = "Asia/Shanghai"


@pytest.mark.parametrize(
    ("code", "after", "want"),
    [
        ("m31", datetime(2027, 2, 1, tzinfo=UTC), "2027-02-28 07:00"),
        ("m30", datetime(2028, 2, 1, tzinfo=UTC), "2028-02-29 07:00"),  # a leap year
        ("m31", datetime(2027, 4, 1, tzinfo=UTC), "2027-04-30 07:00"),
        ("m31", datetime(2027, 5, 1, tzinfo=UTC), "2027-05-31 07:00"),
        ("m29", datetime(2027, 3, 1, tzinfo=UTC), "2027-03-29 07:00"),
        ("m15", datetime(2027, 2, 20, tzinfo=UTC), "2027-03-15 07:00"),
    ],
)
def test_a_monthly_day_past_the_months_end_is_its_last_day(
    code: str, after: datetime, want: str
) -> None:
    at = repeats.next_due(repeats.parse_rule(code), "07:00", after, TZ)
    assert at is not None
    assert at.astimezone(repeats.ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M") == want


async def test_only_staff_repeat_a_phone_order(rt: Runtime) -> None:
    """A household without Telegram: a volunteer who took its order (allowed to take phone
    orders) may not set its repeat; staff covering it may."""
    resident_id = await _resident(rt, 1001)
    order_id = await _order(rt, 1001)
    async with rt.db.session() as s:
        await s.execute(update(Resident).where(Resident.id == resident_id).values(telegram_id=None))
        by_volunteer = update(Order).values(entered_by=VOLUNTEERS_1[0])
        await s.execute(by_volunteer.where(Order.id == order_id))
    # Told at 🔁 already, before any question, and refused at ✅ too.
    with pytest.raises(Refused) as refused:
        async with rt.db.read() as s:
            await repeats.repeatable(s, order_id, VOLUNTEERS_1[0])
    assert "staff" in str(refused.value.message)
    with pytest.raises(Refused) as refused:
        async with rt.db.session() as s:
            await repeats.create(rt, s, order_id, VOLUNTEERS_1[0], "d", "07:00", 0)
    assert "staff" in str(refused.value.message)
    async with rt.db.session() as s:
        await s.execute(update(Order).where(Order.id == order_id).values(entered_by=STAFF))
    async with rt.db.session() as s:
        made = await repeats.create(rt, s, order_id, STAFF, "d", "07:00", 0)
    assert made.created and made.repeat.where
