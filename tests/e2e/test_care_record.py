"""One care record (issue 15, point 6): what staff mark on the care list is what the household
sees on its 👤 page, in kind words; when staff set home isolation the household is told what it
changes, and its order form says how the order will be handed over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.i18n import gettext_for
from bot.services import care, care_flags, isolation, residents
from bot.services.orders import form
from models import CareFlag, Order, Resident
from tests.factories import ANSWERS, STAFF, Harness, Person, Z, buttons, text_of

ZHOU = 1001
ZHOU_PHONE = "13800000001"


async def _resident_id(h: Harness, tid: int) -> int:
    async with h.rt.db.read() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == tid))
    assert rid is not None
    return rid


async def _summary(h: Harness, p: Person) -> dict[str, Any]:
    """The order form walked up to its summary (not sent)."""
    p.say("/order")
    kinds = await p.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await p.press_data(kinds, "d:cat:groceries")
    tr = gettext_for("zh_CN")
    for st in form.steps_for("groceries"):
        prompt = tr(st.prompt)
        current = await h.emu.wait_for(
            p.user_id,
            lambda m, t=prompt: t in text_of(m),
            15.0,
            after_message_id=kinds["message_id"] - 1,
        )
        # "normal": after 21:00 (the bot's clock, Shanghai) "today" is no longer offered.
        value = {**ANSWERS["groceries"], "urgency": "normal"}[st.key]
        if value in {c.value for c in st.choices}:
            await p.press_data(current, f"d:v:{value}")
        else:
            p.say(value)
    return await h.form_summary(p.user_id, kinds)


async def test_the_household_sees_what_staff_marked_and_is_told_of_isolation(
    harness: Harness,
) -> None:
    h = harness
    zhou = await h.register(ZHOU, "周阿姨", phone=ZHOU_PHONE)
    rid = await _resident_id(h, ZHOU)
    h.person(STAFF, "赵书记").say("/help")

    # Before: nothing on her page.
    zhou.say("/me")
    page = await zhou.expect(lambda m: "p:care" in str(m.get("reply_markup")))
    assert "关爱名单：无" in text_of(page)

    # Staff mark her 独居老人 and 残疾 (one she cannot tick herself), and set isolation.
    until = h.rt.today() + timedelta(days=5)
    async with h.rt.db.session() as s:
        await care.toggle_flag(h.rt, s, STAFF, rid, "elderly_alone")
        await care.toggle_flag(h.rt, s, STAFF, rid, "disabled")
        await care.set_isolation(h.rt, s, STAFF, rid, until.isoformat())
    h.rt.wake_outbox()
    await h.settle()

    # She is told, kindly, what isolation changes.
    told = await zhou.expect(Z(isolation.STARTED))
    assert f"{until.month}月{until.day}日" in text_of(told)

    # Her page shows the same record: the flags staff set, and isolation.
    zhou.say("/me")
    page = await zhou.expect(lambda m: "p:care" in str(m.get("reply_markup")))
    text = text_of(page)
    assert "关爱名单：无" not in text
    assert Z(residents.CARE_WORDS[CareFlag.ELDERLY_ALONE]) in text
    assert Z(residents.CARE_WORDS[CareFlag.DISABLED]) in text
    assert (
        Z(
            "The community has noted your household for extra care: your orders come first, "
            "and someone may check on you."
        )
        in text
    )
    assert Z(isolation.ON_MY_PAGE) in text

    # Her care screen ticks what staff marked; she cannot untick it (one record, staff's).
    await zhou.press_data(page, "p:care")
    screen = await h.wait_edit(ZHOU, page["message_id"], lambda m: "p:care:" in str(m))
    elderly = next(t for t, d in buttons(screen) if d == "p:care:elderly_alone")
    assert elderly.startswith("☑️") and Z("(noted by the community)") in elderly
    assert Z("Also noted by the community: {flags}") in text_of(screen)
    said = await zhou.press_data(screen, "p:care:elderly_alone")
    assert said is not None and Z(residents.STAFF_NOTED) in said["text"]
    async with h.rt.db.read() as s:
        assert CareFlag.ELDERLY_ALONE in await care_flags.flags_of(s, rid)

    # Her order form says it will be left at the door, and offers no hand-over.
    summary = await _summary(h, zhou)
    assert Z(isolation.ON_THE_FORM) in text_of(summary)
    assert "d:door" not in [d for _, d in buttons(summary)]
    await zhou.press_data(summary, next(d for _, d in buttons(summary) if d.startswith("d:ok:")))
    await h.wait_edit(ZHOU, summary["message_id"], lambda m: "#" in text_of(m))
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order).where(Order.resident_id == rid))
    assert o is not None and o.doorstep and o.priority

    # Isolation ends: she is told that too.
    async with h.rt.db.session() as s:
        await care.set_isolation(h.rt, s, STAFF, rid, "clear")
    h.rt.wake_outbox()
    await h.settle()
    await zhou.expect(Z(isolation.ENDED))
    zhou.say("/me")
    page = await zhou.expect(lambda m: "p:care" in str(m.get("reply_markup")))
    assert Z(isolation.ON_MY_PAGE) not in text_of(page)


async def test_without_isolation_the_form_offers_the_hand_over(harness: Harness) -> None:
    h = harness
    zhou = await h.register(ZHOU, "周阿姨", phone=ZHOU_PHONE)
    summary = await _summary(h, zhou)
    assert Z(isolation.ON_THE_FORM) not in text_of(summary)
    assert "d:door" in [d for _, d in buttons(summary)]
