"""Orders taken by phone (电话点单, issue 16 section 1): staff register a household without
Telegram, fill in the order form for it, and call it back at the steps that matter; the
household later starting the bot itself is linked, not duplicated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.services import phone_orders
from bot.services.orders import texts
from handlers import keyboards
from handlers import phone_orders as phone_handlers
from handlers.help import HELP_VOLUNTEER
from handlers.keyboards import STAFF_PHONE_ORDER, STAFF_VOLUNTEERS
from models import AuditEntry, Order, OrderEvent, Resident, Volunteer
from tests.factories import (
    ANSWERS,
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    deliver_with_proof,
    register_by_buttons,
    text_of,
)

PHONE = "13700001234"
COLLEAGUE = 9002  # another staff member of the community


async def add_colleague(h: Harness) -> Person:
    """钱主任, a second staff member of 幸福社区 (who takes over when the first one leaves)."""
    from bot.services import staff as staff_service

    colleague = h.person(COLLEAGUE, "钱主任")
    colleague.say("/help")
    async with h.rt.db.session() as s:
        await staff_service.add(
            s,
            h.rt.clock,
            None,
            telegram_id=COLLEAGUE,
            name="钱主任",
            role="community",
            community="xingfu",
        )
    return colleague


async def fill_form(h: Harness, p: Person, kinds: dict[str, Any], category: str) -> int:
    """Answer the order form from its first question (the kind) and send it; the order's id."""
    ans = {**ANSWERS[category], "urgency": "normal"}
    h.past_the_evening(ans)
    summary = await h.answer_form(p, kinds, category, ans, by_phone=True)
    assert "李奶奶" in text_of(summary) and PHONE in text_of(summary)
    # Said of the household, not to the person at the phone: her door, not "your" door.
    assert text_of(summary).startswith(Z("Please check the order taken by phone:"))
    assert "居民家门口" in text_of(summary) and "您家门口" not in text_of(summary)
    assert Z("🤝 Hand it to the resident in person") in [label for label, _ in buttons(summary)]
    confirm = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
    await p.press_data(summary, confirm)
    await h.wait_edit(p.user_id, summary["message_id"], lambda m: not buttons(m))
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order).order_by(Order.id.desc()))
        assert order is not None
        return order.id


async def new_household(h: Harness, staff: Person) -> dict[str, Any]:
    """📞 → 幸福小区 → 2栋 → ➕, then the household's name, unit, room and phone typed; returns
    the order form's first question."""
    staff.say(Z(STAFF_PHONE_ORDER))
    find = await staff.expect(Z(phone_handlers.FIND))
    await staff.press(find, "幸福小区")
    built = await h.wait_edit(STAFF, find["message_id"], lambda m: "2栋" in str(m["reply_markup"]))
    await staff.press(built, "2栋")
    here = await h.wait_edit(STAFF, find["message_id"], lambda m: "ph:nb:" in str(buttons(m)))
    await staff.press(here, "➕")
    for answer in ("李奶奶", "3", "502", PHONE):
        staff.say(answer)
    return await staff.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))


async def test_phone_order_from_entry_to_delivered_with_call_backs(harness: Harness) -> None:
    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    order_id = await fill_form(h, staff, kinds, "groceries")

    async with h.rt.db.read() as s:
        household = await s.scalar(select(Resident).where(Resident.phone == PHONE))
        assert household is not None and household.telegram_id is None
        assert (household.name, household.unit, household.room) == ("李奶奶", "3", "502")
        order = await s.get(Order, order_id)
        assert order is not None
        assert (order.channel, order.entered_by, order.resident_id) == (
            "phone",
            STAFF,
            household.id,
        )
        first = await s.scalar(select(OrderEvent).where(OrderEvent.order_id == order_id))
        assert first is not None
        assert (first.actor, first.actor_telegram_id, first.note) == ("staff", STAFF, "phone")

    # The group post looks like any other: no name, phone or room.
    post = await staff.expect_in(GROUP_1, f"#{order_id}")
    for secret in (PHONE, "502", "李奶奶"):
        assert secret not in text_of(post)

    # The runner's card says to call first; its 💬 goes to the person who took the call
    # (tests/e2e/test_phone_relay.py).
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")  # has a private chat with the bot, as approved volunteers do
    await wang.expect(Z(HELP_VOLUNTEER))
    await wang.press(post, Z("🙋 I'll run it"))
    card = await wang.expect(PHONE)
    assert Z(texts.CALL_FIRST) in text_of(card)
    assert f"m:to:{order_id}" in [d for _, d in buttons(card)]

    # The staff member is asked to call back at the claim, and says so with ✅.
    took = await staff.expect(Z(phone_orders.CALL_BACK))
    assert "王刚" in text_of(took) and PHONE in text_of(took)
    await staff.press(took, "✅")
    await h.wait_edit(STAFF, took["message_id"], lambda m: "✅" in text_of(m) and not buttons(m))

    # Bought and on the way: the plain notices; at the door, a call-back again.
    await wang.press(card, Z("🛒 Bought"))
    card = await h.wait_edit(
        VOLUNTEERS_1[0], card["message_id"], lambda m: f"o:go:{order_id}" in str(buttons(m))
    )
    await wang.press(card, Z("🚶 On the way"))
    card = await h.wait_edit(
        VOLUNTEERS_1[0], card["message_id"], lambda m: f"o:done:{order_id}" in str(buttons(m))
    )
    # The steps without a call-back say whose they are (a notice says "您": the household's).
    news = await h.emu.wait_for(STAFF, lambda m: "李奶奶的电话点单" in text_of(m), 15.0)
    assert not buttons(news)
    await deliver_with_proof(h, wang, card, order_id, amount="20")
    # What was spent: the household is to be called to pay the volunteer (no QR code: it is
    # not the staff member who pays); ✅ 已付款 for when it has.
    pay = await h.emu.wait_for(STAFF, lambda m: "垫付了" in text_of(m), 15.0)
    assert "20" in text_of(pay) and PHONE in text_of(pay) and "请打电话" in text_of(pay)
    assert not pay.get("photo") and f"pay:paid:{order_id}" in str(buttons(pay))
    at_door = await staff.expect(
        lambda m: Z(phone_orders.CALL_BACK) in text_of(m) and Z(texts.AT_DOOR) in text_of(m)
    )
    await staff.press(at_door, "✅")
    told = await h.wait_edit(STAFF, at_door["message_id"], lambda m: not buttons(m))
    assert Z(phone_orders.CALLED_BACK) in text_of(told) and "赵书记" in text_of(told)

    # The order's live card is in the staff member's chat: they confirm for the household.
    live = await h.card(order_id, lambda m: f"o:ok:{order_id}" in str(buttons(m)))
    assert live["chat"]["id"] == STAFF
    assert "居民家门口" in text_of(live) and "您家门口" not in text_of(live)  # her door
    await staff.press(live, Z("✅ Received"))
    await h.settle()
    async with h.rt.db.read() as s:
        order = await s.get(Order, order_id)
        assert order is not None and order.status == "confirmed"
        called = (
            await s.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "phone.called_back")
            )
        ).all()
        assert [d["step"] for d in called] == ["claimed", "delivered"]

    # /stats counts the orders by channel.
    staff.say("/stats")
    await staff.expect(Z("🤖 By the bot {bot} · 📞 by phone {phone}").format(bot=0, phone=1))

    # Still unpaid after the reminder's hours: the kind reminder, again to call the household.
    await h.own_the_sweep()
    h.advance(hours=h.rt.settings.delivery.unpaid_remind_hours + 1)
    await h.sweep()
    nudge = await h.emu.wait_for(STAFF, lambda m: "温和地提醒居民" in text_of(m), 15.0)
    assert PHONE in text_of(nudge) and not nudge.get("photo")


async def test_found_by_phone_and_linked_when_the_household_starts_the_bot(
    harness: Harness,
) -> None:
    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    await staff.press(kinds, "✖️")

    # Found again by the number typed, the form starts for it.
    staff.say(Z(STAFF_PHONE_ORDER))
    await staff.expect(Z(phone_handlers.FIND))
    staff.say(PHONE[-6:])
    which = await staff.expect(lambda m: any(d.startswith("ph:h:") for _, d in buttons(m)))
    assert "李奶奶" in str(buttons(which))
    await staff.press(which, "李奶奶")
    kinds = await staff.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    order_id = await fill_form(h, staff, kinds, "groceries")

    async with h.rt.db.read() as s:
        household = await s.scalar(select(Resident.id).where(Resident.phone == PHONE))

    # The household starts the bot itself, same door, and shares its own contact (Telegram
    # gives the number with the country code): linked, not made twice.
    li = h.person(1005, "李奶奶")
    await register_by_buttons(h, li)
    li.contact("+86" + PHONE)
    await li.expect(PHONE)
    async with h.rt.db.read() as s:
        rows = (await s.execute(select(Resident.id, Resident.telegram_id))).all()
        assert [tuple(r) for r in rows] == [(household, 1005)]
    li.say(Z("📋 My orders"))
    await li.expect(f"#{order_id}")


async def test_staff_allow_a_volunteer_to_take_phone_orders(harness: Harness) -> None:
    h = harness
    staff = h.person(STAFF)
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")
    menu = await wang.expect(Z(HELP_VOLUNTEER))
    assert Z(STAFF_PHONE_ORDER) not in str(menu["reply_markup"])
    wang.say(Z(STAFF_PHONE_ORDER))
    await wang.expect(Z(phone_orders.NOT_ALLOWED))

    # /volunteers → the grid → 📞 next to the volunteer.
    staff.say(Z(STAFF_VOLUNTEERS))
    grids = await staff.expect(lambda m: any(d.startswith("vs:g:") for _, d in buttons(m)))
    await staff.press(grids, "第一网格")
    listing = await h.wait_edit(STAFF, grids["message_id"], lambda m: "vs:ph:" in str(buttons(m)))
    await staff.press(listing, Z("📞 Phone orders: {name}").format(name="王刚"))
    await h.wait_edit(
        STAFF,
        grids["message_id"],
        lambda m: Z("📵 No phone orders: {name}").format(name="王刚") in str(buttons(m)),
    )
    told = await wang.expect(Z(phone_orders.ALLOWED))
    assert Z(STAFF_PHONE_ORDER) in str(told["reply_markup"])  # the menu comes with it
    async with h.rt.db.read() as s:
        assert await s.scalar(select(AuditEntry.action).where(AuditEntry.action == "phone.allowed"))

    # Their menu has 📞, for the households of their own grid only.
    wang.say("/help")
    menu = await wang.expect(Z(HELP_VOLUNTEER))
    assert Z(STAFF_PHONE_ORDER) in str(menu["reply_markup"])
    wang.say(Z(STAFF_PHONE_ORDER))
    find = await wang.expect(Z(phone_handlers.FIND))
    labels = str(buttons(find))
    assert "幸福小区" in labels and "和平里" not in labels
    await wang.press(find, "✖️")

    # The same 📞 pressed again on the older list: refused, nothing changes, the list as it is.
    answer = await staff.press_data(listing, _phone_button(listing), force=True)
    assert answer is not None and answer["show_alert"]
    async with h.rt.db.read() as s:
        allowed = select(Volunteer.can_take_phone_orders)
        assert await s.scalar(allowed.where(Volunteer.telegram_id == VOLUNTEERS_1[0]))
    # 📵 stops them: they are told, with their menu without 📞.
    now = next(m for m in h.emu.messages(STAFF) if m["message_id"] == grids["message_id"])
    await staff.press_data(now, _phone_button(now))
    stopped = await wang.expect(Z(phone_orders.STOPPED))
    assert Z(STAFF_PHONE_ORDER) not in str(stopped["reply_markup"])
    assert Z(keyboards.VOLUNTEER_TASKS) in str(stopped["reply_markup"])


def _phone_button(listing: dict[str, Any]) -> str:
    """王刚's 📞/📵 button on a /volunteers listing."""
    return next(d for label, d in buttons(listing) if d.startswith("vs:ph:") and "王刚" in label)


async def test_cannot_be_done_asks_for_a_call_back_too(harness: Harness) -> None:
    from bot.services.orders import drafts, transitions

    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    await staff.press(kinds, "✖️")
    async with h.rt.db.session() as s:
        household = await s.scalar(select(Resident.id).where(Resident.phone == PHONE))
        assert household is not None
        d = await drafts.start_phone_draft(h.rt, s, STAFF, household)
        await drafts.update_draft(
            h.rt, s, d.id, STAFF, category="groceries", urgency="normal", **ANSWERS["groceries"]
        )
        order_id = (await drafts.submit_draft(h.rt, s, d.id, STAFF)).order.id
        await transitions.claim(h.rt, s, order_id, VOLUNTEERS_1[0])
        await transitions.give_up(h.rt, s, order_id, VOLUNTEERS_1[0], "全城缺货")
    h.rt.wake_outbox()
    sorry = await staff.expect(
        lambda m: Z(phone_orders.CALL_BACK) in text_of(m) and "全城缺货" in text_of(m)
    )
    await staff.press(sorry, "✅")
    await h.wait_edit(STAFF, sorry["message_id"], lambda m: not buttons(m))
    await h.settle()
    async with h.rt.db.read() as s:
        steps = (
            await s.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "phone.called_back")
            )
        ).all()
        assert [d["step"] for d in steps] == ["unfulfillable"]  # the claim's was not pressed


async def test_the_households_cap_holds_for_phone_orders(harness: Harness) -> None:
    from bot.services.orders import drafts

    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    await staff.press(kinds, "✖️")
    cap = h.rt.settings.limits.max_open_orders
    async with h.rt.db.session() as s:
        household = await s.scalar(select(Resident.id).where(Resident.phone == PHONE))
        assert household is not None
        for _ in range(cap):
            d = await drafts.start_phone_draft(h.rt, s, STAFF, household)
            await drafts.update_draft(
                h.rt, s, d.id, STAFF, category="groceries", urgency="normal", **ANSWERS["groceries"]
            )
            await drafts.submit_draft(h.rt, s, d.id, STAFF)
    staff.say(Z(STAFF_PHONE_ORDER))
    await staff.expect(Z(phone_handlers.FIND))
    staff.say(PHONE)
    which = await staff.expect(lambda m: any(d.startswith("ph:h:") for _, d in buttons(m)))
    refused = await staff.press(which, "李奶奶")
    assert refused is not None and "这一户已经有" in refused["text"]
    assert await h.count(Order) == cap


async def test_the_person_who_took_the_call_hears_nobody_has_come_yet(harness: Harness) -> None:
    """At each escalation step of an unclaimed phone order, the staff member who took it is
    told, about the household (name and phone, to call it), without the hotline or 🔔 催一催
    that are the resident's: they are the one to phone."""
    from bot.services import waiting

    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    order_id = await fill_form(h, staff, kinds, "groceries")
    await h.own_the_sweep()
    limits = h.rt.settings.escalation.wait_limits("normal")
    h.advance(minutes=limits.ping_again_minutes + 1)
    assert (await h.sweep())["escalation"] == 1
    told = await staff.expect(lambda m: Z(waiting.CALL_THEM) in text_of(m))
    assert f"#{order_id}" in text_of(told) and "李奶奶" in text_of(told) and PHONE in text_of(told)
    assert not buttons(told)
    assert Z(waiting.URGE_HINT) not in text_of(told)
