"""Issue 15, point 1, beyond the order cards: a press on any older message with buttons never
acts on a past state; it is answered with what is true now, and the message shows the present
(only the buttons that still apply, or none). The residents' messages, one test per kind: a
notice's ✅, the daily check-in, the payment buttons, 🔔, 💬, "send to the volunteer?", the
care screen, the people one orders for, a question of a finished conversation
(test_stale_buttons_staff.py has the staff's and volunteers')."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.buttons import urge_action
from bot.services import (
    care,
    care_checkins,
    care_flags,
    notices,
    payments,
    relay,
    residents,
    waiting,
)
from bot.services.notices import receipts
from bot.services.orders import resident_moves, transitions
from handlers import care as care_handlers
from models import (
    Building,
    CareCheck,
    CareFlag,
    Notice,
    NoticeDelivery,
    Order,
    OrderEvent,
    OrderMessage,
)
from tests.e2e.test_care import _advance_to_local, _resident_id
from tests.e2e.test_notice_receipt import TEXT, _notice_to
from tests.e2e.test_resident_waiting import _setup, _urgent_medicine
from tests.factories import (
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    run_to_door,
    text_of,
)
from tests.factories import button_data as _data

WANG, LI, ZHANG = VOLUNTEERS_1[:3]  # 王刚, 李娜, 张伟


async def test_a_notice_shows_when_it_was_confirmed_and_a_second_press_records_nothing(
    harness: Harness,
) -> None:
    h = harness
    notice_id, (a,) = await _notice_to(h, (1001, "周阿姨"))
    msg = await a.expect(TEXT)
    answer = await a.press_data(msg, f"n:ok:{notice_id}")
    assert answer is not None and Z("Thank you, noted.") in str(answer.get("text"))
    stamp = Z(receipts.RECEIVED_AT).split("{when}")[0]
    edited = await h.wait_edit(a.user_id, msg["message_id"], lambda m: stamp in text_of(m))
    assert buttons(edited) == [] and text_of(edited).startswith(text_of(msg))
    async with h.rt.db.read() as s:
        when = await s.scalar(
            select(NoticeDelivery.confirmed_at).where(NoticeDelivery.chat_id == 1001)
        )
    assert when is not None
    assert when.astimezone(ZoneInfo(h.rt.timezone)).strftime("%m-%d %H:%M") in text_of(edited)

    # Pressed again later (an old client still shows ✅): answered, nothing recorded again.
    h.advance(minutes=30)
    again = await a.press_data(msg, f"n:ok:{notice_id}", force=True)
    assert again is not None and Z("Already noted, thank you.") in str(again.get("text"))
    await h.settle()
    async with h.rt.db.read() as s:
        assert (
            await s.scalar(
                select(NoticeDelivery.confirmed_at).where(NoticeDelivery.chat_id == 1001)
            )
            == when
        )
        assert (await notices.counts(s, notice_id)).confirmed == 1


async def test_yesterdays_check_in_records_nothing_today_and_shows_its_day(
    harness: Harness,
) -> None:
    h = harness
    _advance_to_local(h, "12:30")
    zhou = await h.register(1001, "周阿姨", room="101")
    async with h.rt.db.session() as s:
        await care.toggle_flag(h.rt, s, STAFF, await _resident_id(h, 1001), "elderly_alone")
    _advance_to_local(h, "09:00")
    await h.sweep()
    yesterday = await zhou.expect(lambda m: any(d.startswith("c:ok:") for d in _data(m)))
    old_id = next(d for d in _data(yesterday) if d.startswith("c:ok:")).split(":")[2]
    old_day = h.rt.today()

    # The next morning: a new question; yesterday's, unanswered, is pressed.
    _advance_to_local(h, "09:00")
    await h.sweep()
    today = await zhou.expect(
        lambda m: any(d.startswith("c:ok:") and not d.endswith(f":{old_id}") for d in _data(m))
    )
    ans = await zhou.press_data(yesterday, f"c:call:{old_id}")
    assert ans is not None and ans["show_alert"]
    assert Z(care_checkins.OLD_CHECK) in str(ans["text"])
    shown = await h.wait_edit(1001, yesterday["message_id"], lambda m: buttons(m) == [])
    day = old_day.strftime("%m-%d")
    assert Z(care_handlers.UNANSWERED_ON).format(day=day) in text_of(shown)
    async with h.rt.db.read() as s:
        assert list(await s.scalars(select(CareCheck.answer).order_by(CareCheck.id))) == [
            None,
            None,
        ]

    # Today's answered, then pressed again: one answer, and the question shows it.
    new_id = next(d for d in _data(today) if d.startswith("c:ok:")).split(":")[2]
    await zhou.press_data(today, f"c:ok:{new_id}")
    label = Z(care_checkins.ANSWER_LABEL[care_checkins.FINE])
    await h.wait_edit(1001, today["message_id"], lambda m: label in text_of(m) and not buttons(m))
    ans = await zhou.press_data(today, f"c:need:{new_id}", force=True)
    assert ans is not None and ans["show_alert"] and label in str(ans["text"])
    async with h.rt.db.read() as s:
        answers = list(await s.scalars(select(CareCheck.answer).order_by(CareCheck.id)))
    assert answers == [None, care_checkins.FINE]


async def _delivered_with_amount(h: Harness) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    """周阿姨's order at her door with ¥20 spent: her, the message asking her to pay, and the
    runner's "you are owed"."""
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="20")
    asked = await aunt.expect(lambda m: "pay:paid:1" in _data(m) and "o:ok:1" not in _data(m))
    owed = await h.emu.wait_for(WANG, lambda m: "pay:got:1" in _data(m))
    return aunt, asked, owed


async def test_payment_buttons_pressed_after_the_fact_go_and_record_nothing(
    harness: Harness,
) -> None:
    h = harness
    aunt, asked, owed = await _delivered_with_amount(h)
    # She pays from the order's card; the message that asked still has ✅ 已付款.
    card = await h.card(1, lambda m: "pay:paid:1" in _data(m))
    await aunt.press_data(card, "pay:paid:1")
    told = await h.emu.wait_for(
        WANG, lambda m: "pay:got:1" in _data(m) and m["message_id"] > owed["message_id"]
    )
    async with h.rt.db.read() as s:
        paid = (await s.get(Order, 1)).paid_at  # type: ignore[union-attr]
    assert paid is not None
    h.advance(minutes=5)
    ans = await aunt.press_data(asked, "pay:paid:1")
    assert ans is not None and ans["show_alert"]
    assert Z(payments.ALREADY_PAID).split("{")[0] in str(ans["text"])
    await h.wait_edit(1001, asked["message_id"], lambda m: "pay:paid:1" not in _data(m))

    # The runner confirms from the newer message; the older one's button goes once pressed.
    await _got_from(h, told)
    ans = await h.person(WANG).press_data(owed, "pay:got:1")
    assert ans is not None and ans["show_alert"]
    await h.wait_edit(WANG, owed["message_id"], lambda m: "pay:got:1" not in _data(m))
    async with h.rt.db.read() as s:
        o = await s.get(Order, 1)
    assert o is not None and o.paid_at == paid and o.paid_confirmed_by == WANG


async def _got_from(h: Harness, told: dict[str, Any]) -> None:
    await h.person(WANG).press_data(told, "pay:got:1")
    await h.wait_edit(WANG, told["message_id"], lambda m: "pay:got:1" not in _data(m))


async def test_urge_on_a_taken_order_loses_its_button(harness: Harness) -> None:
    h = harness
    aunt, _boss = await _setup(h)
    oid = await _urgent_medicine(h)
    h.advance(minutes=11)
    await h.sweep()
    step = await aunt.expect(lambda m: urge_action(oid) in _data(m))
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, oid, VOLUNTEERS_1[0])
    h.rt.wake_outbox()
    await h.settle()
    ans = await aunt.press_data(step, urge_action(oid))
    assert ans is not None and ans["show_alert"] and "王刚" in str(ans["text"])
    await h.wait_edit(1001, step["message_id"], lambda m: buttons(m) == [])
    assert Z(waiting.STILL_WAITING) in text_of(step)
    async with h.rt.db.read() as s:
        urged = await s.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == oid, OrderEvent.note == "urged")
        )
        o = await s.get(Order, oid)
    assert urged == 0 and o is not None and o.urge_count == 0


async def test_a_question_of_a_finished_conversation_loses_its_buttons(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF, "赵书记")
    boss.say("/notice")
    ask = await boss.expect(lambda m: any(d.startswith("n:a:") for d in _data(m)))
    boss.say("/cancel")
    await boss.expect(lambda m: m["message_id"] > ask["message_id"])
    pick = next(d for d in _data(ask) if d.startswith("n:a:"))
    ans = await boss.press_data(ask, pick)
    assert ans is not None and ans["show_alert"]
    await h.wait_edit(STAFF, ask["message_id"], lambda m: buttons(m) == [])
    async with h.rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Notice)) == 0


async def test_reply_on_a_message_of_a_finished_order_loses_its_button(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="0")
    async with h.rt.db.session() as s:
        await relay.send(h.rt, s, 1, 1001, "谢谢，放门口就好")
    h.rt.wake_outbox()
    passed_on = await h.emu.wait_for(
        WANG, lambda m: "谢谢，放门口就好" in text_of(m) and "m:to:1" in _data(m)
    )
    async with h.rt.db.session() as s:
        await resident_moves.confirm_receipt(h.rt, s, 1, 1001)
    h.rt.wake_outbox()
    await h.settle()
    ans = await h.person(WANG).press_data(passed_on, "m:to:1")
    assert ans is not None and ans["show_alert"]
    await h.wait_edit(WANG, passed_on["message_id"], lambda m: buttons(m) == [])
    await h.settle()
    # No conversation was started: what he types next is not passed on.
    async with h.rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(OrderMessage)) == 1


async def test_an_offer_to_pass_on_for_an_order_finished_meanwhile_loses_its_buttons(
    harness: Harness,
) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    h.person(WANG).say("/help")
    oid = await h.order_by_service(1001, WANG)
    await h.settle()
    aunt.seen = max(m["message_id"] for m in aunt.chat())
    aunt.say("鸡蛋要土鸡蛋")
    offer = await aunt.expect(lambda m: any(d.startswith("li:to:") for d in _data(m)))
    send = next(d for d in _data(offer) if d.startswith("li:to:"))
    async with h.rt.db.session() as s:
        await resident_moves.cancel_by_resident(h.rt, s, oid, 1001)
    h.rt.wake_outbox()
    await h.settle()
    ans = await aunt.press_data(offer, send)
    assert ans is not None and ans["show_alert"]
    # The other choice (do not send) still applies; the one pressed is gone.
    edited = await h.wait_edit(1001, offer["message_id"], lambda m: send not in _data(m))
    assert any(d.startswith("li:no:") for d in _data(edited))
    async with h.rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(OrderMessage)) == 0
    # Declined: decided, so a press on it again finds no button left to offer.
    no = next(d for d in _data(edited) if d.startswith("li:no:"))
    await aunt.press_data(edited, no)
    await h.wait_edit(1001, offer["message_id"], lambda m: buttons(m) == [])


async def test_removing_someone_removed_already_shows_the_list_as_it_is(harness: Harness) -> None:
    h = harness
    son = await h.register(1002, "吴大爷", building_code="xf1")
    async with h.rt.db.session() as s:
        b = await s.scalar(select(Building.id).order_by(Building.id))
        assert b is not None
        mum = await residents.add_recipient(
            s,
            h.rt.clock,
            owner_telegram_id=1002,
            name="吴奶奶",
            phone="13900000001",
            building_id=b,
            unit="1",
            room="102",
        )
    copies = []
    for _ in range(2):
        son.say("/me")
        me = await son.expect(lambda m: "p:list" in _data(m))
        await son.press_data(me, "p:list")
        copies.append(
            await h.wait_edit(1002, me["message_id"], lambda m: f"p:rm:{mum.id}" in _data(m))
        )
    older, newer = copies
    await son.press_data(newer, f"p:rm:{mum.id}")
    await h.wait_edit(1002, newer["message_id"], lambda m: f"p:rm:{mum.id}" not in _data(m))
    ans = await son.press_data(older, f"p:rm:{mum.id}")
    assert ans is not None and ans["show_alert"]
    shown = await h.wait_edit(1002, older["message_id"], lambda m: f"p:rm:{mum.id}" not in _data(m))
    assert "吴奶奶" not in text_of(shown)
    async with h.rt.db.read() as s:
        assert len(await residents.recipients_of(s, 1002)) == 0


async def test_an_older_care_screen_does_not_untick_what_was_ticked_since(
    harness: Harness,
) -> None:
    h = harness
    zhou = await h.register(1001, "周阿姨")
    screens = []
    for _ in range(2):
        zhou.say("/me")
        me = await zhou.expect(lambda m: "p:care" in _data(m))
        await zhou.press_data(me, "p:care")
        screens.append(
            await h.wait_edit(1001, me["message_id"], lambda m: "p:care:mobility" in _data(m))
        )
    older, newer = screens
    await zhou.press_data(newer, "p:care:mobility")
    await h.wait_edit(
        1001, newer["message_id"], lambda m: any(t.startswith("☑️") for t, _ in buttons(m))
    )
    # ⬜ on the older screen: refused, not unticked; the screen shows it ticked.
    ans = await zhou.press_data(older, "p:care:mobility")
    assert ans is not None and ans["show_alert"]
    await h.wait_edit(
        1001, older["message_id"], lambda m: any(t.startswith("☑️") for t, _ in buttons(m))
    )
    async with h.rt.db.read() as s:
        assert CareFlag.MOBILITY in await care_flags.flags_of(s, await _resident_id(h, 1001))


async def test_paid_pressed_after_the_runner_confirmed_receiving_loses_its_button(
    harness: Harness,
) -> None:
    h = harness
    aunt, asked, owed = await _delivered_with_amount(h)
    # Cash at the door: the runner confirms first; her ✅ 已付款 no longer applies.
    await _got_from(h, owed)
    ans = await aunt.press_data(asked, "pay:paid:1")
    assert ans is not None and ans["show_alert"]
    assert Z(payments.RECEIVED_BEFORE_PAID).split("{")[0] in str(ans["text"])
    await h.wait_edit(1001, asked["message_id"], lambda m: "pay:paid:1" not in _data(m))
    async with h.rt.db.read() as s:
        o = await s.get(Order, 1)
    assert o is not None and o.paid_at is None and o.paid_confirmed_by == WANG
