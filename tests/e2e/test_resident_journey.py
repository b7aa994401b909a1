"""The resident's journey: each kind of errand, ordering for someone else, following,
cancelling, problems, thanks, ordering again, care, and the guard rails."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import care_flags
from bot.services.orders import drafts, form, transitions
from bot.services.orders import kinds as order_kinds
from handlers.flood_guard import FLOOD_KEY
from handlers.help import HELP_RESIDENT
from handlers.keyboards import MENU_ME
from models import CareFlag, Order, OrderDraft, OrderProblem, Resident
from tests.conftest import make_settings
from tests.factories import (
    ANSWERS,
    GROUP_1,
    GROUP_2,
    STAFF,
    VOLUNTEERS_1,
    VOLUNTEERS_2,
    Harness,
    Z,
    buttons,
    door_photo,
    run_to_door,
    text_of,
)

KIND_DETAIL = {  # something of each kind's own answers that the runner must see
    "groceries": "100",
    "medicine": "Any pharmacy",
    "gas": "12345678",
    "other": "📦 Parcel pickup",
}


@pytest.mark.parametrize("kind", ["groceries", "medicine", "gas", "other"])
async def test_each_kind_from_order_to_confirmed(harness: Harness, kind: str) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    done = await h.order(aunt, kind)
    assert "#1" in text_of(done)
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
    assert o is not None and o.category == kind
    expected = {k: v for k, v in ANSWERS[kind].items() if k not in form.COLUMN_KEYS}
    assert o.details == expected
    assert (o.time_window, o.payment, o.doorstep) == (
        ANSWERS[kind]["time_window"],
        ANSWERS[kind]["payment"],
        True,
    )
    card = await run_to_door(h, 1, VOLUNTEERS_1[0], GROUP_1)
    detail = KIND_DETAIL[kind]
    assert (detail if detail.isdigit() else Z(detail)) in text_of(card)
    # ✅ is on the order's live card.
    at_door = await h.card(1, lambda m: "o:ok:1" in str(m.get("reply_markup")))
    await aunt.press_data(at_door, "o:ok:1")
    await h.settle()
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
    assert o is not None and o.status == "confirmed"


async def test_a_photo_list_and_a_voice_description_reach_the_runner(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    # Groceries by a photo of a handwritten list.
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:groceries")
    await h.wait_edit(
        1001,
        kinds["message_id"],
        lambda m: Z(form.KIND_STEPS["groceries"][0].prompt) in text_of(m),
    )
    photo = h.emu.send_photo(1001, b"\x89PNG handwritten list", caption="照单买")
    budget = await aunt.expect(Z(form.KIND_STEPS["groceries"][1].prompt))
    for value in ("any", "yes"):
        await aunt.press_data(budget, f"d:v:{value}")
        budget = await h.wait_edit(
            1001,
            budget["message_id"],
            lambda m, v=value: f"d:v:{v}" not in str(m.get("reply_markup")),
        )
    for value in ("normal", "evening", "cash"):  # any hour: today's evening may be over
        await aunt.press_data(budget, f"d:v:{value}")
        budget = await h.wait_edit(
            1001,
            budget["message_id"],
            lambda m, v=value: f"d:v:{v}" not in str(m.get("reply_markup")),
        )
    assert Z("(with a photo)") in text_of(budget) and "照单买" in text_of(budget)
    await aunt.press_data(budget, next(d for _, d in buttons(budget) if d.startswith("d:ok:")))
    await h.wait_edit(1001, budget["message_id"], lambda m: "#1" in text_of(m))
    post = await aunt.expect_in(GROUP_1, "#1 ")
    assert Z("(with a photo)") in text_of(post) and Z("Evening 18-21") in text_of(post)
    # The runner gets the card and the photo itself.
    await run_to_door(h, 1, VOLUNTEERS_1[0], GROUP_1)
    await h.settle()
    sent = [m for m in h.emu.messages(VOLUNTEERS_1[0]) if m["outgoing"] and m.get("photo")]
    assert len(sent) == 1
    assert sent[0]["photo"][-1]["file_unique_id"] == photo["photo"][-1]["file_unique_id"]

    # Medicine by voice (older people speak more easily than they type).
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:medicine")
    await h.wait_edit(
        1001,
        kinds["message_id"],
        lambda m: Z(form.KIND_STEPS["medicine"][0].prompt) in text_of(m),
    )
    h.emu.send_voice(1001, "OggS 周阿姨的语音".encode(), duration=4)
    await aunt.expect(Z(form.KIND_STEPS["medicine"][1].prompt))
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft).order_by(OrderDraft.id.desc()))
    assert draft is not None and draft.voice and draft.description == ""


async def test_ordering_for_someone_else(harness: Harness) -> None:
    h = harness
    son = await h.register(1002, "吴大爷", building_code="xf1")
    son.say(Z(MENU_ME))
    me = await son.expect(lambda m: "r:edit" in str(m.get("reply_markup")))
    await son.press_data(me, "p:list")
    people = await h.wait_edit(
        1002, me["message_id"], lambda m: "r:add" in str(m.get("reply_markup"))
    )
    await son.press_data(people, "r:add")
    compounds = await son.expect(lambda m: "r:p:" in str(m.get("reply_markup")))
    await son.press_data(compounds, "r:p:2")  # 和平里, the other grid
    blds = await h.wait_edit(
        1002, compounds["message_id"], lambda m: "r:b:" in str(m.get("reply_markup"))
    )
    await son.press(blds, "6栋")
    units = await h.wait_edit(
        1002, compounds["message_id"], lambda m: "r:u:" in str(m.get("reply_markup"))
    )
    await son.press_data(units, "r:u:2")
    await son.expect(Z("Your room number? For example 302."))
    son.say("401")
    await son.expect(Z("Their name? (e.g. 王奶奶)"))
    son.say("王奶奶")
    await son.expect(
        Z(
            "Their phone number, so the volunteer can call if needed? Type it, or "
            "share their contact."
        )
    )
    son.say("13700001234")
    await son.expect("王奶奶")

    son.say("/order")
    who = await son.expect(Z("Who is this order for?"))
    assert any("王奶奶" in t for t, _ in buttons(who))
    rid = next(d for t, d in buttons(who) if "王奶奶" in t)
    await son.press_data(who, rid)
    await h.wait_edit(1002, who["message_id"], lambda m: "d:cat:" in str(m.get("reply_markup")))
    # The rest of the form as usual; the order goes to her grid, with her door and phone.
    await son.press_data(who, "d:cat:other")
    for st in form.steps_for("other"):
        prompt = Z(st.prompt)
        current = await h.emu.wait_for(
            1002, lambda m, t=prompt: t in text_of(m), after_message_id=who["message_id"] - 1
        )
        value = {**ANSWERS["other"], "urgency": "normal"}[st.key]
        if st.choices:
            await son.press_data(current, f"d:v:{value}")
        else:
            son.say(value)
    summary = await h.emu.wait_for(
        1002, lambda m: any(d.startswith("d:ok:") for _, d in buttons(m))
    )
    assert "王奶奶" in text_of(summary) and "6栋 2-401" in text_of(summary)
    await son.press_data(summary, next(d for _, d in buttons(summary) if d.startswith("d:ok:")))
    await h.wait_edit(1002, summary["message_id"], lambda m: "#1" in text_of(m))
    await son.expect_in(GROUP_2, "#1 ")
    assert not any("#1 " in text_of(m) for m in h.emu.messages(GROUP_1))
    card = await run_to_door(h, 1, VOLUNTEERS_2[0], GROUP_2)
    assert "王奶奶" in text_of(card) and "13700001234" in text_of(card)
    assert "6栋 2-401" in text_of(card)
    # The one who ordered follows it and confirms for her.
    at_door = await h.card(1, lambda m: "o:ok:1" in str(m.get("reply_markup")))
    await son.press_data(at_door, "o:ok:1")
    await h.settle()
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
    assert o is not None and o.status == "confirmed" and o.recipient_id is not None


@pytest.mark.parametrize("status", ["open", "claimed", "purchasing", "delivering", "delivered"])
async def test_cancel_where_allowed_and_refused_at_the_door(harness: Harness, status: str) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    runner = VOLUNTEERS_1[0]
    h.person(runner).say("/help")  # the runner has a private chat with the bot
    steps = ["claimed", "purchasing", "delivering", "delivered"]
    for st in steps[: steps.index(status) + 1] if status != "open" else []:
        async with h.rt.db.session() as s:
            if st == "claimed":
                await transitions.claim(h.rt, s, 1, runner)
            elif st == "delivered":
                await transitions.deliver(h.rt, s, 1, runner, door_photo(h), 0)
            else:
                verb = {"purchasing": "buy", "delivering": "go"}[st]
                await transitions.advance(h.rt, s, 1, runner, verb)
    await h.settle()
    aunt.say("/orders")
    # /orders sends the order's live card anew, at the bottom of the chat.
    ordered = Z(order_kinds.ORDERED)
    detail = await aunt.expect(lambda m: ordered in text_of(m) and "#1" in text_of(m))
    assert detail["message_id"] == (await h.card(1))["message_id"]
    if status == "delivered":
        assert not any(d == "o:cancel:1" for _, d in buttons(detail))
        qid = h.emu.press(1001, 1001, detail["message_id"], "o:cxl:1:delivered", force=True)
        ans = await h.emu.wait_callback_answer(qid, 10.0)
        assert (
            ans is not None
            and Z("Order #{id} is already at your door; it can no longer be cancelled.")
            in ans["text"]
        )
        expected = "delivered"
    else:
        await aunt.press_data(detail, "o:cancel:1")
        # Asked in a message of its own, under the card.
        sure = await aunt.expect(lambda m: f"o:cxl:1:{status}" in str(m.get("reply_markup")))
        await aunt.press_data(sure, f"o:cxl:1:{status}")
        expected = "cancelled"
        if status != "open":  # the runner is told to stop
            await h.emu.wait_for(
                runner, Z("{title} was cancelled by the resident. You can stop now.")
            )
    await h.settle()
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
    assert o is not None and o.status == expected


async def test_problem_thanks_and_order_again(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    boss.say("/help")
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt, "groceries")
    await run_to_door(h, 1, VOLUNTEERS_1[0], GROUP_1)
    at_door = await h.card(1, lambda m: "o:ok:1" in str(m.get("reply_markup")))
    await aunt.press_data(at_door, "o:ok:1")
    done = await h.wait_edit(
        1001, at_door["message_id"], lambda m: "o:thank:1" in str(m.get("reply_markup"))
    )
    # Report a problem: it reaches the community staff with the details (asked under the
    # card, which stays).
    await aunt.press_data(done, "o:prob:1")
    kinds = await aunt.expect(lambda m: "o:prob:1:missing" in str(m.get("reply_markup")))
    await aunt.press_data(kinds, "o:prob:1:missing")
    report = await boss.expect(Z("Problem with {title}: {kind}"))
    assert "#1" in text_of(report) and "周阿姨" in text_of(report)
    assert Z("Something is missing") in text_of(report)
    assert await h.count(OrderProblem) == 1
    # Thank the runner with five stars: they hear it; a second rating is refused.
    aunt.say("/orders")
    detail = await aunt.expect(lambda m: "o:thank:1" in str(m.get("reply_markup")))
    await aunt.press_data(detail, "o:thank:1")
    stars = await aunt.expect(lambda m: "o:rate:1:5" in str(m.get("reply_markup")))
    await aunt.press_data(stars, "o:rate:1:5")
    thanked = await h.emu.wait_for(VOLUNTEERS_1[0], "⭐⭐⭐⭐⭐")
    assert "周阿姨" in text_of(thanked)
    qid = h.emu.press(1001, 1001, stars["message_id"], "o:rate:1:1", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10.0)
    assert (
        ans is not None
        and Z("You have already thanked the volunteer for this order.") in ans["text"]
    )
    # Order again: the same answers, shown to check, sent as a new order.
    aunt.say("/orders")
    again = await aunt.expect(lambda m: "o:again:1" in str(m.get("reply_markup")))
    await aunt.press_data(again, "o:again:1")
    summary = await aunt.expect(lambda m: any(d.startswith("d:ok:") for _, d in buttons(m)))
    assert ANSWERS["groceries"]["description"] in text_of(summary)
    await aunt.press_data(summary, next(d for _, d in buttons(summary) if d.startswith("d:ok:")))
    await h.wait_edit(1001, summary["message_id"], lambda m: "#2" in text_of(m))
    async with h.rt.db.read() as s:
        second = await s.get(Order, 2)
    assert second is not None and second.details == (await _first_details(h))


async def _first_details(h: Harness) -> dict:
    async with h.rt.db.read() as s:
        first = await s.get(Order, 1)
    assert first is not None
    return first.details


async def test_edit_from_the_summary_and_hand_over_in_person(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:gas")
    await h.wait_edit(
        1001, kinds["message_id"], lambda m: Z(form.KIND_STEPS["gas"][0].prompt) in text_of(m)
    )
    aunt.say("1 2")  # too short
    await aunt.expect(
        Z(
            "A card or account number has 4 to 30 digits or letters. Please type "
            "it again, or send a photo of the card."
        )
    )
    aunt.say("9988 7766 55")
    amount = await aunt.expect(Z(form.KIND_STEPS["gas"][1].prompt))
    aunt.say("很多")  # no amount at all
    await aunt.expect(Z("Please type an amount in yuan, for example 80."))
    aunt.say("三百块")  # as said aloud
    provider = await aunt.expect(Z(form.KIND_STEPS["gas"][2].prompt))
    aunt.say("华润燃气")
    step = await aunt.expect(Z("How urgent is it?"))
    for value in ("normal", "any", "prepaid"):
        await aunt.press_data(step, f"d:v:{value}")
        step = await h.wait_edit(
            1001,
            step["message_id"],
            lambda m, v=value: f"d:v:{v}" not in str(m.get("reply_markup")),
        )
    summary = step
    assert "9988776655" in text_of(summary)
    assert "300" in text_of(summary) and "华润燃气" in text_of(summary)
    # Change the amount from the summary: asked again, then back to the summary.
    await aunt.press_data(summary, "d:edit:amount")
    asked = await h.wait_edit(
        1001, summary["message_id"], lambda m: "d:v:100" in str(m.get("reply_markup"))
    )
    await aunt.press_data(asked, "d:v:100")
    summary = await h.wait_edit(
        1001, summary["message_id"], lambda m: "d:door" in str(m.get("reply_markup"))
    )
    assert "300" not in text_of(summary)
    await aunt.press_data(summary, "d:door")
    summary = await h.wait_edit(
        1001, summary["message_id"], lambda m: Z("Hand it over in person.") in text_of(m)
    )
    await aunt.press_data(summary, next(d for _, d in buttons(summary) if d.startswith("d:ok:")))
    await h.wait_edit(1001, summary["message_id"], lambda m: "#1" in text_of(m))
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
    assert o is not None and o.details["amount"] == "100" and o.doorstep is False
    assert o.details["gas_account"] == "9988776655" and amount and provider


async def test_care_list_marks_orders_priority(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/me")
    me = await aunt.expect(lambda m: "r:edit" in str(m.get("reply_markup")))
    await aunt.press_data(me, "p:care")
    care = await h.wait_edit(
        1001, me["message_id"], lambda m: "p:care:elderly_alone" in str(m.get("reply_markup"))
    )
    await aunt.press_data(care, "p:care:elderly_alone")
    await h.wait_edit(
        1001, me["message_id"], lambda m: any(t.startswith("☑️") for t, _ in buttons(m))
    )
    async with h.rt.db.read() as s:
        res = await s.scalar(select(Resident))
    assert res is not None and res.care_consent_at is not None
    async with h.rt.db.read() as s:
        assert await care_flags.declared(s, res) == {CareFlag.ELDERLY_ALONE}
    await h.order(aunt)
    post = await aunt.expect_in(GROUP_1, "#1 ")
    assert Z("Priority: a household on the care list") in text_of(post)
    assert Z("Someone elderly living alone") not in text_of(post)  # never the reason


async def test_guard_rails_open_order_cap_and_flooding(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    cap = h.rt.settings.limits.max_open_orders
    for _ in range(cap):
        async with h.rt.db.session() as s:
            d = await drafts.start_draft(h.rt, s, 1001, category="other")
            await drafts.update_draft(h.rt, s, d.id, 1001, urgency="normal", **ANSWERS["other"])
            await drafts.submit_draft(h.rt, s, d.id, 1001)
    aunt.say("/order")
    await aunt.expect(
        Z(
            "You already have {n} orders under way. Please wait until one is "
            "finished, or cancel one in 📋 My orders."
        )
    )
    assert await h.count(Order) == cap
    # Flooding: past the per-minute limit, one friendly answer, the rest ignored.
    h.service.app.bot_data[FLOOD_KEY].per_minute = 3
    h.service.app.bot_data[FLOOD_KEY]._seen.clear()
    for i in range(6):
        aunt.say(f"/help {i}")
    await aunt.expect(
        Z("You are sending messages very fast. Please wait a minute, then try again.")
    )
    await h.settle()
    warnings = [
        m
        for m in aunt.chat()
        if Z("You are sending messages very fast. Please wait a minute, then try again.")
        in text_of(m)
    ]
    assert len(warnings) == 1


async def test_an_abandoned_form_times_out_and_language_works_inside_it(
    harness: Harness, database_url: str
) -> None:
    h = harness
    await h.restart(make_settings(database_url, limits={"conversation_timeout_seconds": 2}))
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    # /language and /help work in the middle of the form; the form stays.
    aunt.say("/help")
    await aunt.expect(Z(HELP_RESIDENT))
    await aunt.press_data(kinds, "d:cat:other")
    await h.wait_edit(
        1001, kinds["message_id"], lambda m: "d:v:parcel" in str(m.get("reply_markup"))
    )
    # Then nothing for longer than the timeout: the bot says so, nothing was sent.
    await aunt.expect(
        Z(
            "We stopped here because there was no answer for a long time. Nothing "
            "was sent. Send /start or press 📝 Order to begin again."
        ),
        timeout=15,
    )
    assert await h.count(Order) == 0


async def test_a_half_filled_form_survives_a_restart(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:groceries")
    await h.wait_edit(
        1001,
        kinds["message_id"],
        lambda m: Z(form.KIND_STEPS["groceries"][0].prompt) in text_of(m),
    )
    aunt.say("两颗白菜")
    step = await aunt.expect(Z(form.KIND_STEPS["groceries"][1].prompt))
    await h.settle()
    # The bot restarts in the middle of the form.
    await h.restart()
    # The next press carries on where she was.
    for value in ("any", "yes", "normal", "any", "cash"):
        await aunt.press_data(step, f"d:v:{value}")
        step = await h.wait_edit(
            1001,
            step["message_id"],
            lambda m, v=value: f"d:v:{v}" not in str(m.get("reply_markup")),
        )
    assert "两颗白菜" in text_of(step)
    await aunt.press_data(step, next(d for _, d in buttons(step) if d.startswith("d:ok:")))
    await h.wait_edit(1001, step["message_id"], lambda m: "#1" in text_of(m))
    async with h.rt.db.read() as s:
        o = await s.scalar(select(Order))
    assert o is not None and o.description == "两颗白菜" and o.details["budget"] == "any"
