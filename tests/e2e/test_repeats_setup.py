"""Issue 16, section 2, the other ways in: 🔁 on the order form's summary (sent now and repeated
from tomorrow), and a repeat of a phone order set up by the staff member who took it (each
occurrence a phone order of theirs, its card and call-backs in their chat)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.services import repeats
from bot.services.orders import resident_moves
from models import Order, OrderEvent, Repeat
from tests.conftest import make_settings
from tests.e2e.test_phone_orders import COLLEAGUE, PHONE, add_colleague, new_household
from tests.e2e.test_repeats import AUNT, data, local, occurrences, repeat_row, to_due
from tests.factories import ANSWERS, STAFF, Harness, Person, Z, buttons, text_of

TOMORROW = "Today's order is already placed, so it starts tomorrow."


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One person presses many buttons within a minute here: the flood guard at its most lenient;
    # and the days' orders stay open (nobody runs them), so the household's cap is raised.
    return make_settings(database_url, limits={"messages_per_minute": 600, "max_open_orders": 10})


async def send_repeating(
    h: Harness, p: Person, kinds: dict[str, Any], rule: str, at: str, span: int
) -> dict[str, Any]:
    """Fill in the form, press 🔁 on its summary, choose how often, when and how long; returns
    the confirmation screen (before ✅) and leaves the order sent."""
    ans = {**ANSWERS["groceries"], "urgency": "normal"}
    h.past_the_evening(ans)
    summary = await h.answer_form(p, kinds, "groceries", ans, by_phone=p.user_id == STAFF)
    labels = [label for label, _ in buttons(summary)]
    assert Z("✅ Send the order") in labels and Z("🔁 Send it, and repeat it regularly") in labels
    okr = next(d for _, d in buttons(summary) if d.startswith("d:okr:"))
    await p.press_data(summary, okr)
    sent = await h.wait_edit(p.user_id, summary["message_id"], lambda m: not buttons(m))
    assert "#1" in text_of(sent)
    how = await p.expect(lambda m: "rp:r:1:d" in data(m))
    await p.press_data(how, f"rp:r:1:{rule}")
    when = await h.wait_edit(p.user_id, how["message_id"], lambda m: "rp:t:1:" in str(data(m)))
    await p.press_data(when, f"rp:t:1:{rule}:{at}")
    return await h.wait_edit(
        p.user_id, how["message_id"], lambda m: f"rp:ok:1:{rule}:{at}:{span}" in data(m)
    )


async def test_repeat_set_from_the_order_forms_summary(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    sure = await send_repeating(h, aunt, kinds, "d", "1100", 0)
    # Today's was just sent: the repeat starts tomorrow, and says so before it is set.
    assert Z(TOMORROW) in text_of(sure)
    await aunt.press_data(sure, "rp:ok:1:d:1100:0")
    done = await h.wait_edit(AUNT, sure["message_id"], lambda m: not buttons(m))
    assert "定期订单1号" in text_of(done)

    async with h.rt.db.read() as s:
        first = await s.get(Order, 1)
        assert first is not None and first.status == "open" and first.repeat_id is None
    r = await repeat_row(h)
    assert (r.kind, r.at_time, r.status, r.created_by) == ("daily", "11:00", "active", AUNT)
    assert r.next_due_at is not None
    assert local(r.next_due_at, h).date() == local(first.created_at, h).date() + timedelta(days=1)
    assert local(r.next_due_at, h).strftime("%H:%M") == "11:00"

    # Tomorrow at 11:00 the sweep makes the second, the same errand, once.
    await h.own_the_sweep()
    await to_due(h)
    await h.sweep()
    await h.sweep()
    made = await occurrences(h)
    assert len(made) == 1
    assert (made[0].description, made[0].resident_id) == (first.description, first.resident_id)
    card = await h.card(made[0].id)
    assert card["chat"]["id"] == AUNT and Z("🔁 Repeating order") in text_of(card)


async def test_the_staff_member_repeats_a_phone_order(harness: Harness) -> None:
    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    sure = await send_repeating(h, staff, kinds, "d", "0700", 7)
    assert Z(TOMORROW) in text_of(sure)
    await staff.press_data(sure, "rp:ok:1:d:0700:7")
    done = await h.wait_edit(STAFF, sure["message_id"], lambda m: not buttons(m))
    # The staff member sees whose repeat it is (their private chat).
    assert "定期订单1号" in text_of(done) and "李奶奶" in text_of(done)

    r = await repeat_row(h)
    assert (r.created_by, r.status) == (STAFF, "active")
    assert r.next_due_at is not None and r.ends_on is not None
    # A week from tomorrow: seven mornings.
    assert r.ends_on == local(r.next_due_at, h).date() + timedelta(days=6)

    await h.own_the_sweep()
    await to_due(h)
    await h.sweep()
    made = await occurrences(h)
    assert len(made) == 1
    o = made[0]
    # A phone order of the staff member's, like the first: the household has no chat.
    assert (o.channel, o.entered_by, o.repeat_id) == ("phone", STAFF, r.id)
    async with h.rt.db.read() as s:
        ev = await s.scalar(select(OrderEvent).where(OrderEvent.order_id == o.id))
        assert ev is not None and ev.note == f"phone repeat R{r.id}"
    card = await h.card(o.id)
    assert card["chat"]["id"] == STAFF and Z("🔁 Repeating order") in text_of(card)

    # /repeats lists it with the household; pausing it there holds the next one.
    staff.say("/repeats")
    listed = await staff.expect(lambda m: f"rp:pause:{r.id}:active" in data(m))
    assert "李奶奶" in text_of(listed) and PHONE not in text_of(listed)
    await staff.press_data(listed, f"rp:pause:{r.id}:active")
    await h.wait_edit(STAFF, listed["message_id"], lambda m: f"rp:resume:{r.id}:paused" in data(m))
    h.advance(days=1)
    await h.sweep()
    assert len(await occurrences(h)) == 1
    async with h.rt.db.read() as s:
        paused = await s.get(Repeat, r.id)
        assert paused is not None and paused.status == "paused"


async def test_a_last_day_typed_ends_it_after_that_day(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    sure = await send_repeating(h, aunt, kinds, "d", "0700", 0)
    assert Z("📅 Until a day I type") in [label for label, _ in buttons(sure)]
    await aunt.press_data(sure, "rp:until:1:d:0700")
    await h.wait_edit(AUNT, sure["message_id"], lambda m: Z(repeats.BAD_END) in text_of(m))
    today = h.rt.today()
    # Not a day: asked again. Today (before the first one, tomorrow): asked again, saying why.
    aunt.say("下周吧")
    await aunt.expect(Z(repeats.BAD_END))
    aunt.say(f"{today.month}月{today.day}日")
    early = await aunt.expect(lambda m: "之前" in text_of(m))
    assert (today + timedelta(days=1)).strftime("%m-%d") in text_of(early)
    last = today + timedelta(days=3)
    aunt.say(f"{last.month}月{last.day}号")
    ok = f"rp:okd:1:d:0700:{last.strftime('%Y%m%d')}"
    asked = await aunt.expect(lambda m: ok in data(m))
    assert last.strftime("%m-%d") in text_of(asked)
    await aunt.press_data(asked, ok)
    await h.wait_edit(AUNT, asked["message_id"], lambda m: not buttons(m))
    r = await repeat_row(h)
    assert r.ends_on == last

    # Tomorrow, the day after and the last day: three orders; then it has ended.
    await h.own_the_sweep()
    for _day in range(3):
        await to_due(h)
        await h.sweep()
    assert len(await occurrences(h)) == 3
    r = await repeat_row(h)
    assert (r.status, r.next_due_at) == ("ended", None)
    h.advance(days=2)
    await h.sweep()
    assert len(await occurrences(h)) == 3


async def test_someone_elses_order_asks_nothing(harness: Harness) -> None:
    """🔁's questions about an order that is not the presser's (a forged press): refused with
    the reason, and no question is asked (the typed-time and last-day ones waited for text)."""
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt, "groceries", urgency="normal")
    other = await h.register(1002, "吴大爷", "xf2", "1", "101")
    own = other.chat()[-1]
    for forged in ("rp:until:1:d:0700", "rp:type:1:d", "rp:wk:1", "rp:r:1:d"):
        answer = await other.press_data(own, forged, force=True)
        assert answer is not None and answer["show_alert"], forged
        assert Z("This is not your order.") in answer["text"], forged
    await h.settle()
    assert not [m for m in other.chat() if Z(repeats.BAD_END) in text_of(m)]
    async with h.rt.db.read() as s:
        assert await s.scalar(select(Repeat)) is None


async def test_a_phone_repeat_whose_staff_member_left_is_paused_and_taken_over(
    harness: Harness,
) -> None:
    """The staff member who set up a phone repeat leaves the staff: the next occurrence is not
    placed in their name (its card and call-backs would carry the household's name and phone),
    the repeat is paused and the staff covering the household are alerted without a name; a
    colleague who resumes it in /repeats takes it over, and its orders come to them."""
    from bot.services import staff as staff_service

    h = harness
    colleague = await add_colleague(h)
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    sure = await send_repeating(h, staff, kinds, "d", "0700", 7)
    await staff.press_data(sure, "rp:ok:1:d:0700:7")
    await h.wait_edit(STAFF, sure["message_id"], lambda m: not buttons(m))
    r = await repeat_row(h)
    async with h.rt.db.session() as s:
        # The order taken on the phone is over (an open one stays with the person who took the
        # call until it ends), and then they leave the staff.
        await resident_moves.cancel_by_resident(h.rt, s, 1, STAFF)
        await staff_service.remove(s, h.rt.clock, None, telegram_id=STAFF)
    await h.settle()
    before = len(staff.chat())

    await h.own_the_sweep()
    await to_due(h)
    await h.sweep()
    assert await occurrences(h) == []
    r = await repeat_row(h)
    assert (r.status, r.next_due_at, r.created_by) == ("paused", None, STAFF)
    alert = await colleague.expect(lambda m: f"定期订单{r.id}号" in text_of(m))
    assert "李奶奶" not in text_of(alert) and PHONE not in text_of(alert)
    assert [text_of(m) for m in staff.chat()[before:]] == []  # the one who left hears nothing

    colleague.say("/repeats")
    listed = await colleague.expect(lambda m: f"rp:resume:{r.id}:paused" in data(m))
    await colleague.press_data(listed, f"rp:resume:{r.id}:paused")
    await h.wait_edit(
        COLLEAGUE, listed["message_id"], lambda m: f"rp:pause:{r.id}:active" in data(m)
    )
    r = await repeat_row(h)
    assert (r.status, r.created_by) == ("active", COLLEAGUE)
    await to_due(h)
    await h.sweep()
    made = await occurrences(h)
    assert len(made) == 1 and (made[0].channel, made[0].entered_by) == ("phone", COLLEAGUE)
    card = await h.card(made[0].id)
    assert card["chat"]["id"] == COLLEAGUE
    assert staff.chat()[before:] == []
