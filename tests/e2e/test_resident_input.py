"""Bad or unexpected input gets a clear answer and loses nothing; English on request."""

from __future__ import annotations

from sqlalchemy import select

from handlers.common import HELP_RESIDENT, MENU_ORDER
from handlers.resident import WELCOME
from models import Order, OrderDraft, Resident
from tests.factories import Harness, Z, buttons, text_of


async def test_english_on_request(harness: Harness) -> None:
    h = harness
    tom = h.person(1002, "Tom")
    tom.say("/language")
    choose = await tom.expect(lambda m: any(d == "l:en" for _, d in buttons(m)))
    await tom.press_data(choose, "l:en")
    await h.wait_edit(1002, choose["message_id"], lambda m: "English" in text_of(m))
    tom.say("/start")
    welcome = await tom.expect("Welcome to the community errand service")
    assert "跑腿" in text_of(welcome)
    tom.say("/help")
    await tom.expect(HELP_RESIDENT.split("\n")[0])


async def test_registration_survives_stray_input_and_can_be_cancelled(harness: Harness) -> None:
    h = harness
    aunt = h.person(1001, "周阿姨")
    aunt.say("/start")
    await aunt.expect(Z(WELCOME))
    compounds = await aunt.expect(Z("Which compound (小区)?"))
    # A sticker and a photo where a button is expected: a hint, and the question stays.
    h.emu.send_sticker(1001)
    await aunt.expect(
        Z(
            "Please answer the question above (use the buttons if there are any), "
            "or send /cancel to stop."
        )
    )
    h.emu.send_photo(1001, b"\x89PNG fake")
    await aunt.expect(
        Z(
            "Please answer the question above (use the buttons if there are any), "
            "or send /cancel to stop."
        )
    )
    await aunt.press(compounds, "幸福小区")
    buildings = await h.wait_edit(
        1001, compounds["message_id"], lambda m: "r:b:" in str(m.get("reply_markup"))
    )
    await aunt.press(buildings, "1栋")
    units = await h.wait_edit(
        1001, compounds["message_id"], lambda m: "r:u:" in str(m.get("reply_markup"))
    )
    await aunt.press(units, "2")
    await aunt.expect(Z("Your room number? For example 302."))
    aunt.say("三楼左边那家!!")  # not a room number
    await aunt.expect(Z("Please send the room number, for example 302."))
    aunt.say("301")
    await aunt.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"))
    aunt.say("/cancel")
    await aunt.expect(Z("Stopped. Nothing was sent."))
    assert await h.count(Resident) == 0
    # After cancelling, stray text gets a pointer to /start.
    aunt.say("你好")
    await aunt.expect(
        Z("Welcome! Send /start to register your address, then you can order errands.")
    )


async def test_ordering_refuses_bad_input_and_keeps_the_form(harness: Harness) -> None:
    h = harness
    limit = h.rt.settings.limits.max_text_length
    aunt = await h.register(1001, "周阿姨")
    aunt.say(Z(MENU_ORDER))  # the menu button sends its label as text
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:medicine")
    await h.wait_edit(
        1001, kinds["message_id"], lambda m: "d:cat:" not in str(m.get("reply_markup"))
    )
    h.emu.send_voice(1001)
    await aunt.expect(Z("Please write what you need as text, or /cancel."))
    aunt.say("药" * (limit + 1))
    await aunt.expect(Z("That is too long ({n} characters). Please keep it under {limit}."))
    aunt.say("/nonsense")
    await aunt.expect(Z("I do not know that command. Send /help to see what I can do."))
    aunt.say("布洛芬 1盒")  # the form is still waiting for the description
    urg = await aunt.expect(lambda m: any(d.startswith("d:urg:") for _, d in buttons(m)))
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft))
    assert draft is not None and draft.description == "布洛芬 1盒" and draft.category == "medicine"
    # Cancel from the summary: no order is made.
    await aunt.press_data(urg, "d:urg:urgent")
    summary = await h.wait_edit(
        1001, urg["message_id"], lambda m: any(d.startswith("d:ok:") for _, d in buttons(m))
    )
    assert "布洛芬 1盒" in text_of(summary)
    await aunt.press_data(summary, "d:stop")
    await h.wait_edit(
        1001, urg["message_id"], lambda m: Z("Stopped. Nothing was sent.") in text_of(m)
    )
    assert await h.count(Order) == 0
    # A stale confirm from that form would still make exactly the order it described, once:
    # it is the resident's own draft. But a forged draft id is refused.
    qid = h.emu.press(1001, 1001, summary["message_id"], "d:ok:999", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10.0)
    assert (
        ans is not None
        and Z("This order form has expired. Press Order to start a new one.") in ans["text"]
    )
    assert await h.count(Order) == 0
