"""Words that misled (issue 15, point 5): the group's post says when a task was posted and how
soon it is needed without reading as a date; the order form offers no time window that has
already ended today (nor "today" once every window has); a building of one unit asks no unit,
and every question shown is one the bot waits for."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot.services.orders import form
from handlers.registration import WELCOME, WELCOME_BY_POSTER
from models import Building
from tests.factories import GROUP_1, Harness, Person, Z, buttons, text_of


def _to_local(h: Harness, hh: int, mm: int) -> None:
    """Move the bot's clock forward to the next hh:mm in the community's time zone."""
    zone = ZoneInfo(h.rt.timezone)
    now = h.rt.clock.now().astimezone(zone)
    target = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    h.advance(seconds=(target - now).total_seconds())


async def _up_to_urgency(h: Harness, aunt: Person) -> dict:  # type: ignore[type-arg]
    """A groceries order answered up to the urgency question, which is returned."""
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:groceries")
    await h.wait_edit(
        1001, kinds["message_id"], lambda m: Z(form.KIND_STEPS["groceries"][0].prompt) in text_of(m)
    )
    aunt.say("两颗白菜")
    step = await aunt.expect(Z(form.KIND_STEPS["groceries"][1].prompt))
    await aunt.press_data(step, "d:v:any")
    step = await h.wait_edit(
        1001, step["message_id"], lambda m: "d:v:yes" in str(m.get("reply_markup"))
    )
    await aunt.press_data(step, "d:v:yes")
    return await h.wait_edit(
        1001, step["message_id"], lambda m: Z("How urgent is it?") in text_of(m)
    )


def _values(msg: dict) -> list[str]:  # type: ignore[type-arg]
    return [d.removeprefix("d:v:") for _, d in buttons(msg) if d.startswith("d:v:")]


async def test_past_time_windows_are_not_offered(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    _to_local(h, 18, 17)
    urgency = await _up_to_urgency(h, aunt)
    assert _values(urgency) == ["normal", "today", "urgent"]
    await aunt.press_data(urgency, "d:v:today")
    windows = await h.wait_edit(
        1001, urgency["message_id"], lambda m: Z("When can you take it in?") in text_of(m)
    )
    # At 18:17 only the evening (until 21:00) and "any time" are left.
    assert _values(windows) == ["any", "evening"]
    assert Z("Morning 8-12") not in str(windows["reply_markup"])
    # A morning button pressed anyway (an old message): refused, the question asked again.
    ans = await aunt.press_data(windows, "d:v:morning", force=True)
    assert ans is not None and Z(form.PAST_WINDOW) in ans["text"]
    await aunt.press_data(windows, "d:v:evening")
    pay = await h.wait_edit(
        1001, windows["message_id"], lambda m: "d:v:cash" in str(m.get("reply_markup"))
    )
    await aunt.press_data(pay, "d:v:cash")
    summary = await h.wait_edit(
        1001, pay["message_id"], lambda m: "d:ok:" in str(m.get("reply_markup"))
    )
    # The summary's ✏️ buttons are all in Chinese (the description's was "✏️ What").
    edits = [t for t, d in buttons(summary) if d.startswith("d:edit:")]
    assert "✏️ 要办的事" in edits and not any("What" in t for t in edits)
    await aunt.press_data(summary, next(d for _, d in buttons(summary) if d.startswith("d:ok:")))
    await h.wait_edit(1001, summary["message_id"], lambda m: "#1" in text_of(m))
    # The group's post: how soon it is needed, and when it was posted, not a date.
    post = await h.emu.wait_for(GROUP_1, lambda m: "#1 " in text_of(m))
    assert re.search(r"⏱ 今天内送到 · 发布于 18:1[78]\n", text_of(post)), text_of(post)


async def test_after_the_last_window_today_is_not_offered(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    _to_local(h, 21, 5)
    urgency = await _up_to_urgency(h, aunt)
    assert _values(urgency) == ["normal", "urgent"]
    await aunt.press_data(urgency, "d:v:urgent")
    windows = await h.wait_edit(
        1001, urgency["message_id"], lambda m: Z("When can you take it in?") in text_of(m)
    )
    assert _values(windows) == ["any"]


async def test_changing_to_today_asks_again_for_a_window_that_has_ended(
    harness: Harness,
) -> None:
    """A normal order for the morning, changed to "today" at 18:17: the morning has gone, so
    the window is asked again (only what is left) before the summary comes back."""
    h = harness
    aunt = await h.register(1001, "周阿姨")
    _to_local(h, 18, 17)
    urgency = await _up_to_urgency(h, aunt)
    await aunt.press_data(urgency, "d:v:normal")
    windows = await h.wait_edit(
        1001, urgency["message_id"], lambda m: "d:v:morning" in str(m.get("reply_markup"))
    )
    await aunt.press_data(windows, "d:v:morning")
    pay = await h.wait_edit(
        1001, windows["message_id"], lambda m: "d:v:cash" in str(m.get("reply_markup"))
    )
    await aunt.press_data(pay, "d:v:cash")
    summary = await h.wait_edit(
        1001, pay["message_id"], lambda m: "d:ok:" in str(m.get("reply_markup"))
    )
    assert Z("Morning 8-12") in text_of(summary)
    await aunt.press_data(summary, "d:edit:urgency")
    urgency = await h.wait_edit(
        1001, summary["message_id"], lambda m: "d:v:today" in str(m.get("reply_markup"))
    )
    await aunt.press_data(urgency, "d:v:today")
    windows = await h.wait_edit(
        1001, summary["message_id"], lambda m: Z("When can you take it in?") in text_of(m)
    )
    assert _values(windows) == ["any", "evening"]
    await aunt.press_data(windows, "d:v:evening")
    summary = await h.wait_edit(
        1001, summary["message_id"], lambda m: "d:ok:" in str(m.get("reply_markup"))
    )
    assert Z("Evening 18-21") in text_of(summary) and Z("Morning 8-12") not in text_of(summary)


async def _one_unit(h: Harness, code: str) -> None:
    async with h.rt.db.session() as s:
        await s.execute(update(Building).where(Building.code == code).values(units=1))


async def test_a_one_unit_building_by_its_poster_asks_only_the_room(harness: Harness) -> None:
    h = harness
    await _one_unit(h, "xf3")
    aunt = h.person(1001, "周阿姨")
    aunt.say("/start b_xf3")
    asked = await aunt.expect(Z("Your room number? For example 302."))
    await h.settle()
    # One message: the welcome, where, and the one question the bot now waits for.
    said = aunt.chat()
    assert len(said) == 1, [text_of(m) for m in said]
    text = text_of(asked)
    assert Z(WELCOME_BY_POSTER) in text and "您住在幸福社区 幸福小区 3栋。" in text
    assert "单元" not in text and not buttons(asked)
    aunt.say("302")
    await aunt.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"))


async def test_a_one_unit_building_by_buttons_asks_only_the_room(harness: Harness) -> None:
    h = harness
    await _one_unit(h, "xf3")
    aunt = h.person(1001, "周阿姨")
    aunt.say("/start")
    await aunt.expect(Z(WELCOME))
    compounds = await aunt.expect(Z("Which compound (小区)?"))
    await aunt.press(compounds, "幸福小区")
    buildings = await h.wait_edit(
        1001, compounds["message_id"], lambda m: "3栋" in str(m.get("reply_markup"))
    )
    await aunt.press(buildings, "3栋")
    asked = await h.wait_edit(
        1001,
        compounds["message_id"],
        lambda m: Z("Your room number? For example 302.") in text_of(m),
    )
    await h.settle()
    assert "单元" not in text_of(asked) and not buttons(asked)
    # Nothing else was said: the edited question is the one waited for.
    assert [m["message_id"] for m in aunt.chat()][-1] == compounds["message_id"]
    aunt.say("302")
    await aunt.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"))


def test_the_windows_follow_the_clock() -> None:
    """The rule itself, at the edges: a window is offered until it ends."""
    tw = form.COMMON_STEPS[1]
    urgency = form.COMMON_STEPS[0]
    at = datetime(2026, 12, 1, 11, 59).time()
    offered = [c.value for c in form.offered(tw, {"urgency": "today"}, at)]
    assert offered == ["any", "morning", "afternoon", "evening"]
    at = datetime(2026, 12, 1, 12, 0).time()
    offered = [c.value for c in form.offered(tw, {"urgency": "urgent"}, at)]
    assert offered == ["any", "afternoon", "evening"]
    assert len(form.offered(tw, {"urgency": "normal"}, at)) == 4
    late = datetime(2026, 12, 1, 21, 0).time()
    assert [c.value for c in form.offered(urgency, {}, late)] == ["normal", "urgent"]


async def test_an_order_for_today_in_the_evening_still_goes_through(harness: Harness) -> None:
    """The suite does not depend on the hour it runs: the factory's order for today, asked
    after 21:00, moves the bot's clock to the next morning first; through the services (an
    old button), "today" is still taken after 21:00, with only "any time" to go with it."""
    from bot.services.orders import drafts

    h = harness
    aunt = await h.register(1001, "周阿姨")
    _to_local(h, 21, 30)
    async with h.rt.db.session() as s:
        d = await drafts.start_draft(h.rt, s, 1001, category="other")
        d = await drafts.update_draft(h.rt, s, d.id, 1001, urgency="today")
        assert d.urgency == "today"
        assert [
            c.value for c in form.offered(form.COMMON_STEPS[1], d.answers, drafts.local_clock(h.rt))
        ] == ["any"]
        await s.rollback()
    done = await h.order(aunt)
    assert "#" in text_of(done)
    local = h.rt.clock.now().astimezone(ZoneInfo(h.rt.timezone))
    assert local.hour >= 8 and local.hour < 21
