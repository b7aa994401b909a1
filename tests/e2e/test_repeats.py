"""Issue 16, section 2: repeating errands. 🔁 定期下单 on a finished order's card sets one up by
buttons; the sweep makes each occurrence an ordinary order at its time, once, also across a
restart; an occurrence missed while the bot was down is made late, once, with a note; 📋 My
orders lists the repeats with ⏸ / ▶️ / ✖️, a press on an older list acting on nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.services import repeats
from models import Order, Repeat
from tests.conftest import make_settings
from tests.factories import Harness, Person, Z, buttons, text_of

AUNT = 1001


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One person presses many buttons within a minute here: the flood guard at its most lenient.
    return make_settings(database_url, limits={"messages_per_minute": 600})


def data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


async def set_up(h: Harness, aunt: Person, rule: str = "d", at: str = "0700") -> dict[str, Any]:
    """周阿姨 orders, cancels, and repeats the order from its card; returns the last message."""
    card = await h.order(aunt, "groceries", urgency="normal")
    await aunt.press_data(card, "o:cancel:1")
    asked = await aunt.expect(lambda m: "o:cxl:1:open" in data(m))
    await aunt.press_data(asked, "o:cxl:1:open")
    card = await h.card(1, lambda m: "rp:new:1" in data(m))
    assert Z("🔁 Repeat regularly") in [t for t, _ in buttons(card)]
    await aunt.press_data(card, "rp:new:1")
    how = await aunt.expect(lambda m: "rp:r:1:d" in data(m))
    assert Z("Every day") in text_of(how) or Z("Every day") in str(buttons(how))
    if rule.startswith("w"):
        await aunt.press_data(how, "rp:wk:1")
        how = await h.wait_edit(AUNT, how["message_id"], lambda m: "rp:r:1:w0" in data(m))
    await aunt.press_data(how, f"rp:r:1:{rule}")
    when = await h.wait_edit(AUNT, how["message_id"], lambda m: f"rp:t:1:{rule}:0700" in data(m))
    await aunt.press_data(when, f"rp:t:1:{rule}:{at}")
    sure = await h.wait_edit(AUNT, how["message_id"], lambda m: f"rp:ok:1:{rule}:{at}:0" in data(m))
    assert Z("Repeat it {rule}?") in text_of(sure)
    await aunt.press_data(sure, f"rp:ok:1:{rule}:{at}:0")
    done = await h.wait_edit(AUNT, how["message_id"], lambda m: not buttons(m))
    assert "定期订单1号" in text_of(done)
    return done


async def repeat_row(h: Harness) -> Repeat:
    async with h.rt.db.read() as s:
        r = await s.scalar(select(Repeat))
        assert r is not None
        return r


async def occurrences(h: Harness) -> list[Order]:
    async with h.rt.db.read() as s:
        rows = await s.scalars(select(Order).where(Order.repeat_id.is_not(None)).order_by(Order.id))
        return list(rows)


async def to_due(h: Harness, after: timedelta = timedelta(minutes=1)) -> None:
    """Move the bot's clock to just after the repeat's next time."""
    r = await repeat_row(h)
    assert r.next_due_at is not None
    h.advance(seconds=(r.next_due_at - h.rt.clock.now() + after).total_seconds())


def local(at: datetime, h: Harness) -> datetime:
    return at.astimezone(ZoneInfo(h.rt.timezone))


async def test_daily_repeat_fires_once_a_day_across_a_restart(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await set_up(h, aunt)
    await h.own_the_sweep()
    r = await repeat_row(h)
    assert (r.kind, r.at_time, r.status) == ("daily", "07:00", "active")
    assert r.next_due_at is not None and local(r.next_due_at, h).strftime("%H:%M") == "07:00"

    days = []
    for day in range(3):
        await to_due(h)
        await h.sweep()
        await h.sweep()  # a second pass finds nothing due
        if day == 1:
            await h.restart()  # a restart between two passes fires nothing twice
            await h.own_the_sweep()
            await h.sweep()
        made = await occurrences(h)
        assert len(made) == day + 1
        days.append(local(made[-1].created_at, h).date())
        assert not made[-1].repeat_late
        # An ordinary order: open, escalating, with the resident's live card saying so.
        assert made[-1].status == "open" and made[-1].escalate_at is not None
        card = await h.card(made[-1].id)
        assert Z("🔁 Repeating order") in text_of(card)
        assert Z("🔁 Repeating order, created late") not in text_of(card)
    assert len(set(days)) == 3  # one a day, three days running
    r = await repeat_row(h)
    assert r.last_fired_at is not None and r.status == "active"


async def test_missed_occurrence_is_made_late_once(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await set_up(h, aunt)
    await h.own_the_sweep()
    # The bot is down over three due times: when it is back, one order, late, with a note.
    await to_due(h, after=timedelta(days=2, hours=3))
    await h.restart()
    await h.own_the_sweep()
    await h.sweep()
    await h.sweep()
    made = await occurrences(h)
    assert len(made) == 1 and made[0].repeat_late
    card = await h.card(made[0].id)
    assert Z("🔁 Repeating order, created late") in text_of(card)
    # The next one is the next 07:00 from now, not one of the missed ones.
    r = await repeat_row(h)
    assert r.next_due_at is not None and r.next_due_at > h.rt.clock.now()
    assert r.next_due_at - h.rt.clock.now() <= timedelta(days=1)


async def press_and_see(h: Harness, msg: dict[str, Any], press: str, want: str) -> dict[str, Any]:
    """Press ``press`` on a list message; the message as it now shows the repeat (edited in
    place, or sent anew when Telegram no longer lets the bot edit it: 48 hours)."""
    aunt = h.person(msg["chat"]["id"])
    newest = max(m["message_id"] for m in aunt.chat())
    await aunt.press_data(msg, press)
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        for m in aunt.chat():
            fresh = m["message_id"] == msg["message_id"] or m["message_id"] > newest
            if fresh and want in data(m):
                return m
        assert asyncio.get_running_loop().time() < deadline, f"{want} never shown"
        await asyncio.sleep(0.05)


async def test_pause_resume_stop_from_my_orders(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await set_up(h, aunt, rule="w2", at="1100")
    await h.own_the_sweep()
    r = await repeat_row(h)
    assert (r.kind, r.weekday, r.at_time) == ("weekly", 2, "11:00")
    assert local(r.next_due_at or h.rt.clock.now(), h).weekday() == 2

    aunt.say("/orders")
    first = await aunt.expect(lambda m: "rp:pause:1:active" in data(m))
    assert "定期订单1号" in text_of(first) and Z("Wednesday") in text_of(first)
    aunt.say("/orders")
    second = await aunt.expect(lambda m: "rp:pause:1:active" in data(m))

    paused = await press_and_see(h, first, "rp:pause:1:active", "rp:resume:1:paused")
    assert Z("paused") in text_of(paused)
    assert (await repeat_row(h)).status == "paused"
    # The older list's ⏸ (it showed the repeat active): acts on nothing, shows it as it is.
    now_shown = await press_and_see(h, second, "rp:pause:1:active", "rp:resume:1:paused")
    assert Z("paused") in text_of(now_shown)
    assert (await repeat_row(h)).status == "paused"
    # Paused: its time passes, nothing is made.
    h.advance(days=8)
    await h.sweep()
    assert await occurrences(h) == []

    active = await press_and_see(h, now_shown, "rp:resume:1:paused", "rp:pause:1:active")
    r = await repeat_row(h)
    assert r.status == "active" and r.next_due_at is not None
    assert r.next_due_at > h.rt.clock.now()  # what fell in the pause is not made up
    await to_due(h)
    await h.sweep()
    assert len(await occurrences(h)) == 1

    # ▶️ on an older message (it showed it paused; it is active now): nothing done, shown as is.
    await press_and_see(h, paused, "rp:resume:1:paused", "rp:stop:1:active")
    assert (await repeat_row(h)).status == "active"
    await aunt.press_data(active, "rp:stop:1:active")
    await until_status(h, "stopped")
    r = await repeat_row(h)
    assert r.status == "stopped" and r.next_due_at is None
    h.advance(days=8)
    await h.sweep()
    assert len(await occurrences(h)) == 1
    # A stopped repeat is no longer listed.
    async with h.rt.db.read() as s:
        assert await repeats.of_resident(s, AUNT) == []


async def until_status(h: Harness, status: str) -> None:
    for _i in range(300):
        if (await repeat_row(h)).status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the repeat never became {status}")


async def test_end_date_ends_it(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    card = await h.order(aunt, "groceries", urgency="normal")
    await aunt.press_data(card, "o:cancel:1")
    asked = await aunt.expect(lambda m: "o:cxl:1:open" in data(m))
    await aunt.press_data(asked, "o:cxl:1:open")
    card = await h.card(1, lambda m: "rp:new:1" in data(m))
    await aunt.press_data(card, "rp:new:1")
    how = await aunt.expect(lambda m: "rp:r:1:d" in data(m))
    await aunt.press_data(how, "rp:r:1:d")
    when = await h.wait_edit(AUNT, how["message_id"], lambda m: "rp:type:1:d" in data(m))
    # ⌨️ another time: typed.
    await aunt.press_data(when, "rp:type:1:d")
    await h.wait_edit(AUNT, how["message_id"], lambda m: Z(repeats_typing()) in text_of(m))
    aunt.say("25:00")
    await aunt.expect(Z(repeats_typing()))
    aunt.say("6:30")
    sure = await aunt.expect(lambda m: "rp:ok:1:d:0630:7" in data(m))
    await aunt.press_data(sure, "rp:ok:1:d:0630:7")
    await h.wait_edit(AUNT, sure["message_id"], lambda m: not buttons(m))
    # Pressed again (a double tap): still one repeat.
    await aunt.press_data(sure, "rp:ok:1:d:0630:7", force=True)
    assert await h.count(Repeat) == 1
    await h.own_the_sweep()
    for _day in range(9):
        h.advance(days=1)
        await h.sweep()
    r = await repeat_row(h)
    assert r.status == "ended" and r.next_due_at is None and r.at_time == "06:30"
    assert len(await occurrences(h)) <= 7


def repeats_typing() -> str:
    from handlers.repeats import TYPE_A_TIME

    return TYPE_A_TIME


async def test_staff_see_and_pause_the_repeats_in_their_scope(harness: Harness) -> None:
    from tests.factories import STAFF, VOLUNTEERS_1

    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await set_up(h, aunt)
    staff = h.person(STAFF)
    staff.say("/repeats")
    listed = await staff.expect(lambda m: "rp:pause:1:active" in data(m))
    assert (
        "定期订单1号" in text_of(listed)
        and "周阿姨" in text_of(listed)
        and "1-101" in text_of(listed)
    )
    await staff.press_data(listed, "rp:pause:1:active")
    await h.wait_edit(STAFF, listed["message_id"], lambda m: "rp:resume:1:paused" in data(m))
    assert (await repeat_row(h)).status == "paused"
    told = await aunt.expect(
        Z("🔁 Community staff changed your repeating order ({title}, {rule}): {status}.")
    )
    assert Z("paused") in text_of(told)
    # Not staff: refused, and a volunteer's press on the list's button does nothing.
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/repeats")
    refused = await wang.expect(Z("This is for community staff only."))
    await wang.press_data(refused, "rp:resume:1:paused", force=True)
    assert (await repeat_row(h)).status == "paused"
