"""Issue 15, points 1, 5 and 10: one live card per order in the resident's chat, edited at
each change (with a short notice of its own), carrying only the buttons that apply now; the
steps depend on the kind of errand; a press on any older message is answered with the card
as it is now and acts on nothing; cancelling after the items were bought warns first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.i18n import local_time
from bot.services.orders import kinds, texts
from handlers.my_orders import OUT_OF_DATE
from models import Order, OrderEvent
from tests.factories import (
    GROUP_1,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    deliver_with_proof,
    register_by_buttons,
    text_of,
)
from tests.factories import button_data as data

NOTICES = {
    "claimed": "{name} took your order {title} ({time}).",
    "purchasing": "{name} has bought the items for {title} ({time}).",
    "delivering": "{name} is on the way with {title} ({time}).",
    "delivered": texts.AT_DOOR,
}


async def card_with(h: Harness, order_id: int, expected: list[str]) -> dict[str, Any]:
    """The live card once its buttons are ``expected`` (the outbox edits it)."""
    return await h.card(order_id, lambda m: data(m) == expected)


async def claim(h: Harness, order_id: int) -> tuple[Person, dict[str, Any]]:
    """王刚 claims the task from the group; returns him and his private card."""
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")
    post = await h.emu.wait_for(GROUP_1, lambda m: f"o:claim:{order_id}" in data(m))
    await wang.press_data(post, f"o:claim:{order_id}")
    card = await h.emu.wait_for(wang.user_id, lambda m: f"o:rel:{order_id}" in data(m))
    return wang, card


async def events(h: Harness) -> list[tuple[str | None, str]]:
    async with h.rt.db.read() as s:
        rows = await s.scalars(select(OrderEvent).order_by(OrderEvent.id))
        return [(e.from_status, e.to_status) for e in rows]


async def test_errand_card_buttons_at_every_state(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    first = await h.order(aunt, "groceries")
    card_id = first["message_id"]
    # Open: the progress line at its first step, and only the cancel button.
    assert data(first) == ["o:cancel:1"]
    assert f"【{Z(kinds.ORDERED)}】" in text_of(first)
    for step in (kinds.TAKEN, kinds.BOUGHT, kinds.ON_THE_WAY, kinds.AT_THE_DOOR, kinds.FINISHED):
        assert Z(step) in text_of(first)

    wang, runner = await claim(h, 1)
    running = ["m:to:1", "o:cancel:1"]
    card = await card_with(h, 1, running)
    assert card["message_id"] == card_id  # edited in place, not sent again
    assert f"【{Z(kinds.TAKEN)}】" in text_of(card) and "王刚" in text_of(card)
    notice = await aunt.expect(Z(NOTICES["claimed"]))
    assert buttons(notice) == []  # the short notice rings the phone; the card has the buttons

    # The runner's card speaks of the resident's door, and says "bought" once bought.
    assert Z("Contactless: knock and leave it at the resident's door.") in text_of(runner)
    assert "您家门口" not in text_of(runner)
    await wang.press_data(runner, "o:buy:1")
    runner = await h.wait_edit(wang.user_id, runner["message_id"], lambda m: "o:go:1" in data(m))
    assert Z("Status: {status}") + Z("items bought") in text_of(runner)
    assert "正在购买" not in text_of(runner)
    card = await h.card(1, lambda m: f"【{Z(kinds.BOUGHT)}】" in text_of(m))
    assert data(card) == running and card["message_id"] == card_id
    await aunt.expect(Z(NOTICES["purchasing"]))

    await wang.press_data(runner, "o:go:1")
    runner = await h.wait_edit(wang.user_id, runner["message_id"], lambda m: "o:done:1" in data(m))
    card = await h.card(1, lambda m: f"【{Z(kinds.ON_THE_WAY)}】" in text_of(m))
    assert data(card) == running
    await aunt.expect(Z(NOTICES["delivering"]))

    await deliver_with_proof(h, wang, runner, 1, amount="35.5")
    # What was spent is owed until paid: ✅ I have paid stays on the card until then.
    card = await card_with(h, 1, ["o:ok:1", "m:to:1", "o:prob:1", "pay:paid:1"])
    assert f"【{Z(kinds.AT_THE_DOOR)}】" in text_of(card) and "¥35.50" in text_of(card)
    assert Z("📷 The photos of the delivery are in this chat.") in text_of(card)
    # At the door the card comes last in the chat, right above the message asking for its
    # ✅ Received; the card far up loses its buttons (still one card whose buttons act).
    at_door = await aunt.expect(Z(NOTICES["delivered"]))
    assert card["message_id"] > card_id and at_door["message_id"] > card["message_id"]
    old = await h.wait_edit(aunt.user_id, card_id, lambda m: buttons(m) == [])
    assert f"【{Z(kinds.ON_THE_WAY)}】" in text_of(old)
    card_id = card["message_id"]

    await aunt.press_data(card, "o:ok:1")
    card = await card_with(h, 1, ["o:prob:1", "o:thank:1", "o:again:1", "rp:new:1", "pay:paid:1"])
    assert f"【{Z(kinds.FINISHED)}】" in text_of(card)
    await aunt.press_data(card, "pay:paid:1")
    card = await card_with(h, 1, ["o:prob:1", "o:thank:1", "o:again:1", "rp:new:1"])
    await aunt.press_data(card, "o:thank:1")
    stars = await aunt.expect(lambda m: "o:rate:1:5" in data(m))
    await aunt.press_data(stars, "o:rate:1:5")
    card = await card_with(h, 1, ["o:prob:1", "o:again:1", "rp:new:1"])
    assert card["message_id"] == card_id and "⭐⭐⭐⭐⭐" in text_of(card)
    # One card all along: no other message of the resident's chat has an order's button
    # (the stars' question said thanks and lost its buttons).
    await h.settle()
    with_buttons = [m["message_id"] for m in aunt.chat() if any(d[:2] == "o:" for d in data(m))]
    assert with_buttons == [card_id]


async def test_pick_up_has_no_purchase_step(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    first = await h.order(aunt, "other")  # a parcel to pick up
    assert Z(kinds.BOUGHT) not in text_of(first)
    assert f"【{Z(kinds.ORDERED)}】 → {Z(kinds.TAKEN)} → {Z(kinds.ON_THE_WAY)}" in text_of(first)
    wang, runner = await claim(h, 1)
    # Taken, the runner's next step is on the way: nothing to buy.
    assert "o:go:1" in data(runner) and "o:buy:1" not in data(runner)
    answer = await wang.press_data(runner, "o:buy:1", force=True)
    assert answer is not None and answer["show_alert"]
    await wang.press_data(runner, "o:go:1")
    runner = await h.wait_edit(wang.user_id, runner["message_id"], lambda m: "o:done:1" in data(m))
    card = await h.card(1, lambda m: f"【{Z(kinds.ON_THE_WAY)}】" in text_of(m))
    assert f"✓{Z(kinds.TAKEN)} → 【{Z(kinds.ON_THE_WAY)}】" in text_of(card)
    assert data(card) == ["m:to:1", "o:cancel:1"]
    await deliver_with_proof(h, wang, runner, 1, amount="0")
    card = await card_with(h, 1, ["o:ok:1", "m:to:1", "o:prob:1"])
    await aunt.press_data(card, "o:ok:1")
    await card_with(h, 1, ["o:prob:1", "o:thank:1", "o:again:1", "rp:new:1"])
    assert await events(h) == [
        (None, "open"),
        ("open", "claimed"),
        ("claimed", "delivering"),
        ("delivering", "delivered"),
        ("delivered", "confirmed"),
    ]


async def test_stale_press_gets_the_current_card(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    first = await h.order(aunt, "groceries")
    # The order summary stays as sent (point 10): its answers, no buttons.
    summary = next(m for m in aunt.chat() if Z("Sent as order #{id}:") in text_of(m))
    assert "两颗白菜" in text_of(summary) and buttons(summary) == []
    # A cancel question asked while the order was open, left unanswered.
    await aunt.press_data(first, "o:cancel:1")
    question = await aunt.expect(lambda m: "o:cxl:1:open" in data(m))
    assert Z("Cancel order {title}?") in text_of(question)
    assert (await h.card(1))["message_id"] == first["message_id"]  # the card stays

    wang, runner = await claim(h, 1)
    for verb, nxt in (("buy", "go"), ("go", "done")):
        await wang.press_data(runner, f"o:{verb}:1")
        runner = await h.wait_edit(
            wang.user_id, runner["message_id"], lambda m, n=nxt: f"o:{n}:1" in data(m)
        )
    await deliver_with_proof(h, wang, runner, 1, amount="12")
    delivered = await card_with(h, 1, ["o:ok:1", "m:to:1", "o:prob:1", "pay:paid:1"])
    await h.settle()
    before = await events(h)

    # The old question's "Yes, cancel it" after delivery: nothing is cancelled, the card
    # comes anew (last in the chat) and the old message loses its buttons.
    answer = await aunt.press_data(question, "o:cxl:1:open", timeout=30)
    assert answer is not None and Z(
        "Order #{id} has changed since you were asked; nothing was done. Here it is as it is now."
    ) in str(answer["text"])
    anew = await h.card(1, lambda m: m["message_id"] > delivered["message_id"], 30)
    assert data(anew) == ["o:ok:1", "m:to:1", "o:prob:1", "pay:paid:1"]
    assert f"【{Z(kinds.AT_THE_DOOR)}】" in text_of(anew)
    await h.wait_edit(1001, question["message_id"], lambda m: buttons(m) == [])
    await h.wait_edit(1001, delivered["message_id"], lambda m: buttons(m) == [])
    # An old message's cancel button (as sent before the live card) after delivery: the
    # card again, never "cancel order …?".
    answer = await aunt.press_data(summary, "o:cancel:1", force=True, timeout=30)
    assert answer is not None and Z(OUT_OF_DATE) in str(answer["text"])
    newest = await h.card(1, lambda m: m["message_id"] > anew["message_id"], 30)
    assert data(newest) == ["o:ok:1", "m:to:1", "o:prob:1", "pay:paid:1"]
    await h.settle()
    assert not any(Z("Cancel order {title}?") in text_of(m) for m in aunt.chat()[-3:])
    # An old "Yes, cancel it" without the status it was asked in is not acted on either.
    await aunt.press_data(summary, "o:cxl:1", force=True)
    await h.settle()
    assert await events(h) == before
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
        assert order is not None and order.status == "delivered"


async def test_cancel_after_bought_warns(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    first = await h.order(aunt, "groceries")
    # Before anyone took it: no warning.
    await aunt.press_data(first, "o:cancel:1")
    plain = await aunt.expect(lambda m: "o:cxl:1:open" in data(m))
    warning = Z(
        "⚠️ {name} has already bought and paid for the items. If you cancel now, please "
        "agree with them how to settle what they spent."
    )
    assert warning not in text_of(plain)
    await aunt.press_data(plain, "o:keep:1")
    await h.wait_edit(
        1001, plain["message_id"], lambda m: Z("Good, {title} goes on.") in text_of(m)
    )

    wang, runner = await claim(h, 1)
    await wang.press_data(runner, "o:buy:1")
    card = await h.card(1, lambda m: f"【{Z(kinds.BOUGHT)}】" in text_of(m))
    await aunt.press_data(card, "o:cancel:1")
    asked = await aunt.expect(lambda m: "o:cxl:1:purchasing" in data(m))
    assert warning in text_of(asked) and "王刚" in text_of(asked)
    await aunt.press_data(asked, "o:cxl:1:purchasing")
    await h.wait_edit(1001, asked["message_id"], lambda m: buttons(m) == [])
    card = await card_with(h, 1, ["o:again:1", "rp:new:1"])
    assert f"✓{Z(kinds.BOUGHT)} → ✖{Z(kinds.ENDED['cancelled'])}" in text_of(card)
    await wang.expect(Z("{title} was cancelled by the resident. You can stop now."))
    # The runner's card keeps no button of a task that is no longer theirs.
    await h.wait_edit(wang.user_id, runner["message_id"], lambda m: buttons(m) == [])
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
        assert order is not None and order.status == "cancelled"


async def test_card_older_than_two_days_is_sent_anew(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    first = await h.order(aunt, "groceries")
    await h.settle()
    h.advance(hours=49)  # Telegram no longer lets the bot edit it
    await h.sweep()  # the escalation ladder steps on (its events are no step of the order)
    await claim(h, 1)
    fresh = await h.card(1, lambda m: m["message_id"] > first["message_id"])
    assert data(fresh) == ["m:to:1", "o:cancel:1"]
    async with h.rt.db.read() as s:
        order = await s.get(Order, 1)
        assert order is not None and order.resident_card_id is not None
        created = local_time(order.created_at, h.rt.timezone)
    assert f"{Z(kinds.ORDERED)} {created}" in text_of(fresh)


async def test_runner_stale_card_shows_the_task_as_it_is(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt, "groceries")
    wang, runner = await claim(h, 1)
    # /mytasks gives him a second copy of the card; he runs the task from that one.
    wang.say("/mytasks")
    copy = await wang.expect(
        lambda m: "o:buy:1" in data(m) and m["message_id"] > runner["message_id"]
    )
    await wang.press_data(copy, "o:buy:1")
    await h.wait_edit(wang.user_id, copy["message_id"], lambda m: "o:go:1" in data(m))
    # His card follows: it no longer offers 🛒.
    now = await h.wait_edit(wang.user_id, runner["message_id"], lambda m: "o:go:1" in data(m))
    assert "o:buy:1" not in data(now) and Z("items bought") in text_of(now)
    await h.settle()
    before = await events(h)
    # 🛒 pressed anyway on the card as an old client still shows it: refused, nothing done,
    # and the message shows the task as it is.
    answer = await wang.press_data(runner, "o:buy:1", force=True)
    assert answer is not None and answer["show_alert"]
    await h.settle()
    assert await events(h) == before
    again = next(m for m in wang.chat() if m["message_id"] == runner["message_id"])
    assert "o:go:1" in data(again) and "o:buy:1" not in data(again)
    # Given back from the copy: his card loses the address, the phone and the buttons too.
    await wang.press_data(copy, "o:rel:1")
    reasons = await h.wait_edit(
        wang.user_id, copy["message_id"], lambda m: "o:relr:1:busy" in data(m)
    )
    await wang.press_data(reasons, "o:relr:1:busy")
    gone = await h.wait_edit(wang.user_id, runner["message_id"], lambda m: buttons(m) == [])
    assert "13800000000" not in text_of(gone) and "1-101" not in text_of(gone)
    # A button of it pressed anyway (an old client): refused, nothing done.
    answer = await wang.press_data(now, "o:go:1", force=True)
    assert answer is not None and answer["show_alert"]


async def test_what_was_chosen_stays_visible(harness: Harness) -> None:
    """Point 10: the registration's choices stay in the chat (the unit under its question,
    with the compound and building it was asked for); the order's summary stays as sent
    and its card is not replaced by the questions asked about it."""
    h = harness
    aunt = h.person(1001, "周阿姨")
    phone_prompt = await register_by_buttons(h, aunt)
    asked = [m for m in aunt.chat() if Z("{place}. Which unit (单元)?") in text_of(m)]
    assert len(asked) == 1 and "幸福小区 2栋" in text_of(asked[0])
    assert text_of(asked[0]).endswith("✔ 3") and buttons(asked[0]) == []
    aunt.contact("13800001001")
    await aunt.expect("13800001001")
    assert phone_prompt is not None

    first = await h.order(aunt, "groceries")
    await aunt.press_data(first, "o:cancel:1")
    question = await aunt.expect(lambda m: "o:keep:1" in data(m))
    await aunt.press_data(question, "o:keep:1")
    await h.wait_edit(1001, question["message_id"], lambda m: buttons(m) == [])
    await h.settle()
    card = await h.card(1)
    assert card["message_id"] == first["message_id"] and data(card) == ["o:cancel:1"]
    assert text_of(card) == text_of(first)


async def test_a_gas_card_is_topped_up_not_bought(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    first = await h.order(aunt, "gas")
    topped = Z(kinds.PURCHASE_WORD["gas"])
    assert f"{Z(kinds.TAKEN)} → {topped} → {Z(kinds.ON_THE_WAY)}" in text_of(first)
    wang, runner = await claim(h, 1)
    assert ("✅ " + topped, "o:buy:1") in buttons(runner)
    await wang.press_data(runner, "o:buy:1")
    runner = await h.wait_edit(wang.user_id, runner["message_id"], lambda m: "o:go:1" in data(m))
    assert Z("Status: {status}") + topped in text_of(runner)
    notice = await aunt.expect(lambda m: topped in text_of(m) and "王刚" in text_of(m))
    assert Z(NOTICES["purchasing"]) not in text_of(notice) and buttons(notice) == []
    await h.card(1, lambda m: f"【{topped}】" in text_of(m))


async def test_a_private_ping_of_a_task_taken_loses_its_button(harness: Harness) -> None:
    h = harness
    li = h.person(VOLUNTEERS_1[1])
    li.say("/duty")
    off = await h.emu.wait_for(li.user_id, lambda m: "v:duty:on" in data(m))
    await li.press_data(off, "v:duty:on")
    await h.wait_edit(li.user_id, off["message_id"], lambda m: "v:duty:off" in data(m))
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt, "groceries")
    ping = await h.emu.wait_for(li.user_id, lambda m: "o:claim:1" in data(m))
    await claim(h, 1)  # 王刚 was quicker, from the group
    answer = await li.press_data(ping, "o:claim:1")
    assert answer is not None and answer["show_alert"] and "王刚" in str(answer["text"])
    await h.wait_edit(li.user_id, ping["message_id"], lambda m: buttons(m) == [])
