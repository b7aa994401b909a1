"""Proof of delivery: 📦 asks the runner for a photo at the door, what was spent and the
receipt; the resident gets the photos and knows what to pay; every step has a way out."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.services import amounts
from bot.services.orders import resident_moves, texts
from handlers import delivery
from models import Order, OrderEvent
from tests.conftest import make_settings
from tests.factories import (
    GROUP_1,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    deliver_with_proof,
    run_to_door,
    text_of,
)

AUNT = 1001
RUNNER = VOLUNTEERS_1[0]
AT_DOOR = texts.AT_DOOR


async def _on_the_way(h: Harness, order_id: int = 1, runner_id: int = RUNNER) -> dict[str, Any]:
    """Claimed from the group, bought, on the way: the runner's card with 📦 on it."""
    runner = h.person(runner_id)
    if not any(not m["outgoing"] for m in h.emu.messages(runner_id)):
        runner.say("/help")
    post = await h.emu.wait_for(
        GROUP_1, lambda m: any(d == f"o:claim:{order_id}" for _, d in buttons(m))
    )
    await runner.press_data(post, f"o:claim:{order_id}")
    card = await h.emu.wait_for(
        runner_id, lambda m: f"o:buy:{order_id}" in str(m.get("reply_markup"))
    )
    for verb, nxt in (("buy", "go"), ("go", "done")):
        await runner.press_data(card, f"o:{verb}:{order_id}")
        card = await h.wait_edit(
            runner_id,
            card["message_id"],
            lambda m, n=nxt: f"o:{n}:{order_id}" in str(m.get("reply_markup")),
        )
    runner.seen = max(m["message_id"] for m in runner.chat())
    return card


async def _order(h: Harness, order_id: int = 1) -> Order:
    async with h.rt.db.read() as s:
        o = await s.get(Order, order_id)
    assert o is not None
    return o


async def _still_on_the_way(h: Harness, order_id: int = 1) -> None:
    o = await _order(h, order_id)
    assert (o.status, o.doorstep_photo, o.amount_spent_fen, o.receipt_photo) == (
        "delivering",
        None,
        None,
        None,
    )
    assert o.delivered_at is None
    assert await h.count(OrderEvent, OrderEvent.to_status == "delivered") == 0


async def _refused(p: Person, msg: dict[str, Any], data: str) -> str:
    answer = await p.press_data(msg, data, force=True)
    assert answer is not None and answer["show_alert"], answer
    return str(answer["text"])


async def test_photo_amount_and_receipt_reach_the_resident_and_the_database(
    harness: Harness,
) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    card = await _on_the_way(h)
    wang = h.person(RUNNER)

    await wang.press(card, Z("📦 Delivered at the door"))
    ask = await wang.expect(Z(delivery.ASK_PHOTO))
    assert "#1 " in text_of(ask) and any(d == "dl:stop:1" for _, d in buttons(ask))

    # Text, a sticker or a file is not a photo: said so, the question stays.
    wang.say("放在门口了")
    await wang.expect(Z(delivery.PHOTO_ONLY))
    h.emu.send_sticker(RUNNER)
    await wang.expect(Z(delivery.PHOTO_ONLY))
    h.emu.send_document(RUNNER, b"%PDF door", file_name="door.pdf")
    await wang.expect(Z(delivery.PHOTO_ONLY))
    await _still_on_the_way(h)
    door = h.emu.send_photo(RUNNER, b"\x89PNG eggs at the door of 3-502")

    # The amount: what is not a number, negative, too precise or too big is refused.
    await wang.expect(Z(delivery.ASK_AMOUNT))
    for typed, refusal in (
        ("abc", amounts.NOT_AN_AMOUNT),
        ("-5", amounts.NEGATIVE),
        ("35.555", amounts.TOO_PRECISE),
        ("99999", amounts.TOO_MUCH),
    ):
        wang.say(typed)
        await wang.expect(Z(refusal))
    h.emu.send_photo(RUNNER, b"\x89PNG not an amount")
    await wang.expect(Z(delivery.AMOUNT_AS_TEXT))
    await _still_on_the_way(h)
    wang.say("¥35.50")

    receipt_q = await wang.expect(Z(delivery.ASK_RECEIPT))
    assert "¥35.50" in text_of(receipt_q)
    assert [d for _, d in buttons(receipt_q)] == ["dl:skip:1", "dl:stop:1"]
    wang.say("小票在袋子里")
    await wang.expect(Z(delivery.RECEIPT_ONLY))
    await _still_on_the_way(h)
    receipt = h.emu.send_photo(RUNNER, b"\x89PNG receipt 35.50")

    done = await wang.expect(Z(delivery.DELIVERED))
    assert "#1" in text_of(done) and "¥35.50" in text_of(done)
    # The card shows what was spent, and its buttons are gone.
    card = await h.wait_edit(RUNNER, card["message_id"], lambda m: "¥35.50" in text_of(m))
    assert buttons(card) == [] and Z("delivered to the resident's door") in text_of(card)

    # The resident: the photo at the door, the receipt, then what to pay with ✅ Received.
    got_door = await aunt.expect(Z("📷 {title}: the photo at your door"))
    assert got_door["photo"][-1]["file_unique_id"] == door["photo"][-1]["file_unique_id"]
    got_receipt = await aunt.expect(Z("🧾 {title}: the receipt"))
    assert got_receipt["photo"][-1]["file_unique_id"] == receipt["photo"][-1]["file_unique_id"]
    at_door = await aunt.expect(Z(AT_DOOR))
    assert "花费 ¥35.50" in text_of(at_door) and buttons(at_door) == []
    # ✅ Received is on the order's live card, with what to pay.
    card = await h.card(1, lambda m: "o:ok:1" in [d for _, d in buttons(m)])
    assert "花费 ¥35.50" in text_of(card)

    o = await _order(h)
    assert o.status == "delivered" and o.delivered_at is not None
    assert o.amount_spent_fen == 3550
    assert o.doorstep_photo == door["photo"][-1]["file_id"]
    assert o.receipt_photo == receipt["photo"][-1]["file_id"]
    async with h.rt.db.read() as s:
        events = (await s.scalars(select(OrderEvent).where(OrderEvent.order_id == 1))).all()
    assert [(e.from_status, e.to_status, e.actor) for e in events][-1] == (
        "delivering",
        "delivered",
        "volunteer",
    )

    # My orders shows the resident the amount too.
    aunt.say("/orders")
    detail = await aunt.expect(lambda m: "o:ok:1" in str(m.get("reply_markup")))
    assert "¥35.50" in text_of(detail)


async def test_skip_the_receipt_and_nothing_to_pay(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    uncle = await h.register(1002, "吴大爷", room="102")
    await h.order(aunt)
    await h.order(uncle)

    # Full-width digits and 元 are understood; Skip leaves the receipt out.
    await run_to_door(h, 1, RUNNER, GROUP_1, amount="３５元", receipt=False)
    o = await _order(h, 1)
    assert (o.status, o.amount_spent_fen, o.receipt_photo) == ("delivered", 3500, None)
    assert o.doorstep_photo is not None
    at_door = await aunt.expect(Z(AT_DOOR))
    assert "¥35.00" in text_of(at_door)
    assert not any(Z("🧾 {title}: the receipt") in text_of(m) for m in aunt.chat())

    # 0: nothing bought, so no receipt is asked for; the resident has nothing to pay.
    await run_to_door(h, 2, VOLUNTEERS_1[1], GROUP_1, amount="0")
    o = await _order(h, 2)
    assert (o.status, o.amount_spent_fen, o.receipt_photo) == ("delivered", 0, None)
    at_door = await uncle.expect(Z(AT_DOOR))
    assert Z("💰 Nothing was spent; nothing to pay.") in text_of(at_door)
    assert not any(Z(delivery.ASK_RECEIPT) in text_of(m) for m in h.person(VOLUNTEERS_1[1]).chat())


async def test_cancel_at_each_step_keeps_the_task_on_the_way(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    card = await _on_the_way(h)
    wang = h.person(RUNNER)
    stopped = Z(delivery.STOPPED)

    # At the photo: /cancel.
    await wang.press_data(card, "o:done:1")
    await wang.expect(Z(delivery.ASK_PHOTO))
    wang.say("/cancel")
    assert "#1" in text_of(await wang.expect(stopped))
    await _still_on_the_way(h)

    # At the amount: the ✖️ button.
    await wang.press_data(card, "o:done:1")
    await wang.expect(Z(delivery.ASK_PHOTO))
    h.emu.send_photo(RUNNER, b"\x89PNG door")
    ask = await wang.expect(Z(delivery.ASK_AMOUNT))
    await wang.press(ask, Z(delivery.STOP))
    await h.wait_edit(RUNNER, ask["message_id"], lambda m: stopped in text_of(m))
    await _still_on_the_way(h)

    # At the receipt: /cancel; the old Skip button is out of date afterwards.
    await wang.press_data(card, "o:done:1")
    await wang.expect(Z(delivery.ASK_PHOTO))
    h.emu.send_photo(RUNNER, b"\x89PNG door")
    await wang.expect(Z(delivery.ASK_AMOUNT))
    wang.say("12")
    receipt_q = await wang.expect(Z(delivery.ASK_RECEIPT))
    wang.say("/cancel")
    await wang.expect(stopped)
    await _still_on_the_way(h)
    assert Z("This button is out of date or not for you. Nothing was changed.") in await _refused(
        wang, receipt_q, "dl:skip:1"
    )
    # A photo now is not taken as proof: nobody asked for one.
    h.emu.send_photo(RUNNER, b"\x89PNG stray")
    await h.settle()
    await _still_on_the_way(h)
    assert not any(Z(AT_DOOR) in text_of(m) for m in aunt.chat())

    # The card still works: the task can be delivered after all.
    await deliver_with_proof(h, wang, card, 1)
    assert (await _order(h)).status == "delivered"


async def test_cancelled_meanwhile_is_refused_and_nothing_is_written(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    card = await _on_the_way(h)
    wang = h.person(RUNNER)
    await wang.press_data(card, "o:done:1")
    await wang.expect(Z(delivery.ASK_PHOTO))
    h.emu.send_photo(RUNNER, b"\x89PNG door")
    await wang.expect(Z(delivery.ASK_AMOUNT))
    wang.say("20")
    receipt_q = await wang.expect(Z(delivery.ASK_RECEIPT))

    # The resident cancels while the runner is answering.
    async with h.rt.db.session() as s:
        await resident_moves.cancel_by_resident(h.rt, s, 1, AUNT)
    h.rt.wake_outbox()
    await wang.expect(Z("{title} was cancelled by the resident. You can stop now."))

    await wang.press(receipt_q, Z(delivery.SKIP))
    await wang.expect(Z("Order #{id} was cancelled."))
    o = await _order(h)
    assert (o.status, o.doorstep_photo, o.amount_spent_fen, o.delivered_at) == (
        "cancelled",
        None,
        None,
        None,
    )
    assert await h.count(OrderEvent, OrderEvent.to_status == "delivered") == 0
    await h.settle()
    assert not any(Z(AT_DOOR) in text_of(m) for m in aunt.chat())
    assert not any(m.get("photo") for m in aunt.chat())


async def test_only_the_runner_can_press_delivered(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    other = h.person(VOLUNTEERS_1[1])
    other.say("/help")
    mine = await other.expect(lambda m: True)

    # Still being bought: 📦 from an old or forged card is out of date.
    wang = h.person(RUNNER)
    wang.say("/help")
    post = await h.emu.wait_for(GROUP_1, lambda m: "o:claim:1" in str(m.get("reply_markup")))
    await wang.press_data(post, "o:claim:1")
    card = await h.emu.wait_for(RUNNER, lambda m: "o:buy:1" in str(m.get("reply_markup")))
    assert Z("Order #{id} has moved on; this button is out of date.") in await _refused(
        wang, card, "o:done:1"
    )
    await wang.press_data(card, "o:buy:1")
    card = await h.wait_edit(RUNNER, card["message_id"], lambda m: "o:go:1" in str(m))
    await wang.press_data(card, "o:go:1")
    await h.wait_edit(RUNNER, card["message_id"], lambda m: "o:done:1" in str(m))

    # Another volunteer, the resident and a press in the group are refused; nothing asked.
    only = Z("Only the volunteer running this task can do that.")
    assert only in await _refused(other, mine, "o:done:1")
    assert only in await _refused(aunt, aunt.chat()[-1], "o:done:1")
    stale = Z("This button is out of date or not for you. Nothing was changed.")
    assert stale in await _refused(wang, post, "o:done:1")
    await h.settle()
    assert not any(Z(delivery.ASK_PHOTO) in text_of(m) for m in other.chat() + aunt.chat())
    other.say("我来送")  # no delivery conversation for them: the usual hint, with their menu
    await other.expect(Z("I did not understand that. Please use the buttons below, or send /help."))
    await _still_on_the_way(h)


@pytest.mark.parametrize(
    ("photo", "amount"), [(False, False), (True, False), (False, True)], ids=str
)
async def test_the_config_decides_what_is_asked(
    harness: Harness, database_url: str, photo: bool, amount: bool
) -> None:
    h = harness
    await h.restart(
        make_settings(database_url, delivery={"doorstep_photo": photo, "ask_amount": amount})
    )
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    card = await _on_the_way(h)
    wang = h.person(RUNNER)

    if not photo and not amount:
        # Nothing asked: 📦 delivers at once, as before.
        await wang.press_data(card, "o:done:1")
        card = await h.wait_edit(RUNNER, card["message_id"], lambda m: not buttons(m))
        assert Z("Thank you! The resident has been told to take it in.") in text_of(card)
        assert not any(Z(delivery.ASK_PHOTO) in text_of(m) for m in wang.chat())
    else:
        await deliver_with_proof(h, wang, card, 1, amount="8.8")
        asked = [text_of(m) for m in wang.chat()]
        assert any(Z(delivery.ASK_PHOTO) in t for t in asked) == photo
        assert any(Z(delivery.ASK_AMOUNT) in t for t in asked) == amount
    at_door = await aunt.expect(Z(AT_DOOR))
    o = await _order(h)
    assert o.status == "delivered"
    assert (o.doorstep_photo is not None) == photo
    assert o.amount_spent_fen == (880 if amount else None)
    assert ("¥8.80" in text_of(at_door)) == amount
    assert any(m.get("photo") for m in aunt.chat()) == (photo or amount)


async def test_an_abandoned_delivery_times_out_on_the_way(
    harness: Harness, database_url: str
) -> None:
    h = harness
    await h.restart(make_settings(database_url, limits={"conversation_timeout_seconds": 2}))
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    card = await _on_the_way(h)
    wang = h.person(RUNNER)
    await wang.press_data(card, "o:done:1")
    await wang.expect(Z(delivery.ASK_PHOTO))
    h.emu.send_photo(RUNNER, b"\x89PNG door")
    await wang.expect(Z(delivery.ASK_AMOUNT))
    told = await wang.expect(Z(delivery.TIMED_OUT), timeout=15)
    assert "#1" in text_of(told)
    await _still_on_the_way(h)


async def test_a_delivery_in_progress_survives_a_restart(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨")
    await h.order(aunt)
    card = await _on_the_way(h)
    wang = h.person(RUNNER)
    await wang.press_data(card, "o:done:1")
    await wang.expect(Z(delivery.ASK_PHOTO))
    door = h.emu.send_photo(RUNNER, b"\x89PNG door")
    await wang.expect(Z(delivery.ASK_AMOUNT))
    await h.settle()

    await h.restart()
    wang.say("0")  # the new process remembers the photo and the question
    await wang.expect(Z(delivery.DELIVERED))
    o = await _order(h)
    assert (o.status, o.amount_spent_fen) == ("delivered", 0)
    assert o.doorstep_photo == door["photo"][-1]["file_id"]
