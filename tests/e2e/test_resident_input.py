"""Bad or unexpected input gets a clear answer and loses nothing; English on request."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import people
from bot.services.orders import form
from handlers import ordering
from handlers.help import HELP_RESIDENT
from handlers.keyboards import MENU_ORDER
from handlers.registration import WELCOME
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
    prompt = Z(form.KIND_STEPS["medicine"][0].prompt)
    await h.wait_edit(1001, kinds["message_id"], lambda m: prompt in text_of(m))
    # A sticker cannot describe medicine; a too-long text is refused; an unknown command too.
    h.emu.send_sticker(1001)
    await aunt.expect(
        Z(
            "I cannot use that here. Please answer with text, a photo or a voice "
            "message, or use the buttons. /cancel stops."
        )
    )
    aunt.say("药" * (limit + 1))
    await aunt.expect(Z("That is too long ({n} characters). Please keep it under {limit}."))
    aunt.say("/nonsense")
    await aunt.expect(Z("I do not know that command. Send /help to see what I can do."))
    aunt.say("布洛芬 1盒")  # the form is still waiting for the description
    pharmacy = await aunt.expect(Z(form.KIND_STEPS["medicine"][1].prompt))
    # A pharmacy name that is too long is refused; the question stays.
    aunt.say("大" * 41)
    await aunt.expect(Z("Please type a name of at most {n} characters."))
    aunt.say("老百姓大药房")
    hospital = await aunt.expect(Z(form.KIND_STEPS["medicine"][2].prompt))
    # Typing where only buttons fit.
    aunt.say("不用")
    await aunt.expect(Z("Please use the buttons to answer."))
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft))
    assert draft is not None and draft.description == "布洛芬 1盒"
    assert draft.details == {"pharmacy": "老百姓大药房"}
    assert pharmacy["message_id"] < hospital["message_id"]
    # The pharmacy question's button, still on screen after the name was typed: it answers
    # nothing now (not even the question open below), says so, and its buttons go.
    ans = await aunt.press_data(pharmacy, "d:v:any")
    assert ans is not None and ans["text"] == Z(ordering.ANSWERED_BEFORE)
    await h.wait_edit(1001, pharmacy["message_id"], lambda m: buttons(m) == [])
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft))
    assert draft is not None and draft.details == {"pharmacy": "老百姓大药房"}
    still = next(m for m in aunt.chat() if m["message_id"] == hospital["message_id"])
    assert ("否", "d:v:no") in [(label, d) for label, d in buttons(still)]
    # Stop from the buttons: no order is made.
    await aunt.press_data(hospital, "d:stop")
    await h.wait_edit(
        1001, hospital["message_id"], lambda m: Z("Stopped. Nothing was sent.") in text_of(m)
    )
    assert await h.count(Order) == 0
    # A forged confirm (someone else's or an unknown draft) is refused.
    qid = h.emu.press(1001, 1001, hospital["message_id"], "d:ok:999", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10.0)
    assert (
        ans is not None
        and Z("This order form has expired. Press Order to start a new one.") in ans["text"]
    )
    assert await h.count(Order) == 0


async def test_the_main_screens_in_english(harness: Harness) -> None:
    h = harness
    tom = await h.register(1002, "Tom")
    async with h.rt.db.session() as s:
        await people.set_language(s, h.rt.clock, 1002, "en")
    tom.say("/start")
    await tom.expect("Welcome back, Tom.")
    menu = tom.chat()[-1]["reply_markup"]["keyboard"]
    assert [b["text"] for b in menu[0]] == ["📝 Order", "📋 My orders", "🛒 Group-buys"]
    done = await h.order(tom, "medicine", lang="en")
    # The order's live card: its steps, its answers.
    assert "💊 #1 Medicine" in text_of(done) and "【Ordered】 → Taken → Bought" in text_of(done)
    tom.say("/orders")
    detail = await tom.expect("Pharmacy: Any pharmacy")
    assert "Cancel this order" in [t for t, _ in buttons(detail)]
    tom.say("/me")
    await tom.expect("Care list: no")
