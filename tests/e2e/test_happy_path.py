"""The whole errand loop from each user's side: register, order, claim, run, confirm."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.orders import texts
from handlers.help import HELP_VOLUNTEER
from models import Order, OrderEvent, Resident
from tests.factories import (
    GROUP_1,
    VOLUNTEERS_1,
    Harness,
    Z,
    buttons,
    deliver_with_proof,
    register_by_buttons,
    text_of,
)


async def test_register_order_claim_deliver_confirm(harness: Harness) -> None:
    h = harness
    aunt = h.person(1001, "周阿姨")

    # Registration by buttons: compound, building, unit; then room, name, phone by contact.
    phone_prompt = await register_by_buttons(h, aunt)
    keyboard = phone_prompt["reply_markup"]["keyboard"]
    assert keyboard[0][0].get("request_contact") is True
    aunt.contact("13800001001")
    done = await aunt.expect("13800001001")
    assert "幸福小区 2栋 3-502" in text_of(done)
    async with h.rt.db.read() as s:
        me = await s.scalar(select(Resident).where(Resident.telegram_id == 1001))
        assert me is not None and (me.unit, me.room, me.phone) == ("3", "502", "13800001001")

    # Order groceries through the menu.
    confirmation = await h.order(aunt, "groceries", "两颗白菜，一盒鸡蛋，电话13912345678", "today")
    assert "#1" in text_of(confirmation)
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
        assert order is not None and order.status == "open" and order.grid_id == 1

    # The group post: kind, compound/building, urgency; never the phone, room or name.
    post = await aunt.expect_in(GROUP_1, "#1")
    post_text = text_of(post)
    assert Z("Groceries") in post_text and "幸福小区 2栋" in post_text
    assert Z("Today") in post_text
    for secret in ("13800001001", "502", "周阿姨", "13912345678"):
        assert secret not in post_text, secret

    # A volunteer of the grid claims it from the group.
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")  # has a private chat with the bot, as approved volunteers do
    await wang.expect(Z(HELP_VOLUNTEER))
    answer = await wang.press(post, Z("🙋 I'll run it"))
    assert answer is not None and "#1" in answer["text"]
    taken = await h.wait_edit(GROUP_1, post["message_id"], lambda m: "王刚" in text_of(m))
    assert buttons(taken) == []

    # The full address goes privately to the claimer, and only to them.
    card = await wang.expect("13800001001")
    assert "2栋 3-502" in text_of(card) and "周阿姨" in text_of(card)
    for other in VOLUNTEERS_1[1:]:
        assert (
            not any("13800001001" in text_of(m) for m in h.emu.messages(other) if m["outgoing"])
            if other in h.emu.users
            else True
        )
    assert not any("13800001001" in text_of(m) for m in h.emu.messages(GROUP_1))

    # The resident hears at each step, with the runner's first name.
    took = await aunt.expect(Z("{name} took your order {title} ({time})."))
    assert "王刚" in text_of(took)
    await wang.press(card, Z("🛒 Bought"))
    await aunt.expect(Z("{name} has bought the items for {title} ({time})."))
    card = await h.wait_edit(
        VOLUNTEERS_1[0], card["message_id"], lambda m: "o:go:1" in str(m.get("reply_markup"))
    )
    await wang.press(card, Z("🚶 On the way"))
    await aunt.expect(Z("{name} is on the way with {title} ({time})."))
    card = await h.wait_edit(
        VOLUNTEERS_1[0], card["message_id"], lambda m: "o:done:1" in str(m.get("reply_markup"))
    )
    # 📦 asks for a photo at the door, what was spent and the receipt (tests/e2e/
    # test_delivery_proof.py has the details); the resident learns what to pay.
    assert any(Z("📦 Delivered at the door") in t for t, _ in buttons(card))
    await deliver_with_proof(h, wang, card, 1, amount="35.5")
    at_door = await aunt.expect(Z(texts.AT_DOOR))
    assert "¥35.50" in text_of(at_door) and buttons(at_door) == []
    # ✅ is on the order's live card (tests/e2e/test_live_card.py has its every state).
    card = await h.card(1, lambda m: "o:ok:1" in str(m.get("reply_markup")))
    await aunt.press(card, Z("✅ Received"))
    await wang.expect(Z("The resident received {title}. Thank you for running it!"))

    await h.settle()
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
        assert order is not None and order.status == "confirmed"
        events = (await s.scalars(select(OrderEvent).order_by(OrderEvent.id))).all()
        assert [(e.from_status, e.to_status) for e in events] == [
            (None, "open"),
            ("open", "claimed"),
            ("claimed", "purchasing"),
            ("purchasing", "delivering"),
            ("delivering", "delivered"),
            ("delivered", "confirmed"),
        ]
