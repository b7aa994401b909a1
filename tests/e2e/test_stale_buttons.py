"""Issue 15, point 1, beyond the order cards: a press on any older message with buttons never
acts on a past state; it is answered with what is true now, and the message shows the present
(only the buttons that still apply, or none). One test per kind of message: a notice's ✅, the
daily check-in, a shift-swap request, a volunteer's approval, the payment buttons, 🔔."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.buttons import urge_action
from bot.seed import ensure_admins
from bot.services import (
    care,
    care_checkins,
    care_flags,
    notices,
    payments,
    relay,
    residents,
    roster,
    volunteers,
    waiting,
)
from bot.services.notices import receipts
from bot.services.orders import transitions
from handlers import care as care_handlers
from handlers import notices as notice_handlers
from models import (
    Building,
    CareCheck,
    CareFlag,
    Notice,
    NoticeDelivery,
    Order,
    OrderEvent,
    OrderMessage,
    Resident,
    Shift,
    ShiftSwap,
    Staff,
    StaffRole,
    Volunteer,
)
from tests.e2e.test_admin import ADMIN
from tests.e2e.test_care import _advance_to_local, _resident_id
from tests.e2e.test_notice_receipt import TEXT, _notice_to
from tests.e2e.test_resident_waiting import _setup, _urgent_medicine
from tests.e2e.test_roster import _hello, _put_on, _volunteer_id
from tests.e2e.test_suspension import _staff_screen
from tests.e2e.test_volunteer_join import _sign_up
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_1, Harness, Z, buttons, run_to_door, text_of

WANG, LI, ZHANG = VOLUNTEERS_1[:3]  # 王刚, 李娜, 张伟


def _data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


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


async def test_a_swap_request_taken_by_another_shows_so_and_loses_its_buttons(
    harness: Harness,
) -> None:
    h = harness
    await _hello(h, WANG, LI, ZHANG)
    sid = await _put_on(h, roster.slot(h.rt, "day", h.rt.today() + timedelta(days=1)), WANG)
    li, zhang = h.person(LI), h.person(ZHANG)
    for p in (li, zhang):
        p.seen = max(m["message_id"] for m in p.chat())
    li_id, zhang_id = await _volunteer_id(h, LI), await _volunteer_id(h, ZHANG)
    async with h.rt.db.session() as s:
        to_li = await roster.request_swap(h.rt, s, WANG, sid, li_id)
        to_zhang = await roster.request_swap(h.rt, s, WANG, sid, zhang_id)
    h.rt.wake_outbox()
    li_asked = await li.expect(lambda m: f"sw:a:{to_li.id}" in _data(m))
    zhang_asked = await zhang.expect(lambda m: f"sw:a:{to_zhang.id}" in _data(m))
    await li.press_data(li_asked, f"sw:a:{to_li.id}")
    await h.wait_edit(LI, li_asked["message_id"], lambda m: not buttons(m))

    # 张伟's request, pressed after 李娜 took the shift: refused, and it says so for good.
    for verb in ("a", "n"):  # ✅ take it, then ✖️ (as an old client still shows it)
        ans = await zhang.press_data(zhang_asked, f"sw:{verb}:{to_zhang.id}", force=verb == "n")
        assert ans is not None and ans["show_alert"]
    gone = Z("This request is no longer open: the shift has been taken or changed.")
    shown = await h.wait_edit(
        ZHANG, zhang_asked["message_id"], lambda m: gone in text_of(m) and not buttons(m)
    )
    assert "王刚" in text_of(shown)  # what was asked stays readable above
    async with h.rt.db.read() as s:
        shift = await s.get(Shift, sid)
        swaps = {sw.to_volunteer_id: sw.status for sw in await s.scalars(select(ShiftSwap))}
    assert shift is not None and shift.volunteer_id == li_id
    assert swaps == {li_id: "accepted", zhang_id: "withdrawn"}


async def test_a_volunteer_decided_by_another_shows_the_decision(harness: Harness) -> None:
    h = harness
    async with h.rt.db.session() as s:
        s.add(
            Staff(
                telegram_id=5001,
                name="网格长",
                role=StaffRole.GRID_LEADER,
                grid_id=1,
                created_at=h.rt.clock.now(),
            )
        )
    boss, leader = h.person(STAFF), h.person(5001, "网格长")
    for p in (boss, leader):
        p.say("/help")
        await p.expect(lambda m: True)
    await _sign_up(h, 4001, "小陈")
    mine, theirs = await boss.expect("小陈"), await leader.expect("小陈")
    approve = next(d for d in _data(theirs) if d.startswith("v:ok:"))
    await leader.press_data(theirs, approve)
    await h.wait_edit(5001, theirs["message_id"], lambda m: not buttons(m))

    # 赵书记's copy still asks; ❌ there is refused and the copy shows the approval.
    reject = next(d for d in _data(mine) if d.startswith("v:no:"))
    ans = await boss.press_data(mine, reject)
    assert ans is not None and ans["show_alert"] and "小陈" in str(ans["text"])
    approved = Z("✅ Approved: {name} ({grid}).").split("{name}")[0]
    shown = await h.wait_edit(
        STAFF, mine["message_id"], lambda m: approved in text_of(m) and not buttons(m)
    )
    assert "小陈" in text_of(shown)
    async with h.rt.db.read() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == 4001))
    assert vol is not None and vol.status == "approved" and vol.decided_by == 5001


async def test_payment_buttons_pressed_after_the_fact_go_and_record_nothing(
    harness: Harness,
) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await run_to_door(h, 1, WANG, GROUP_1, amount="20")
    asked = await aunt.expect(lambda m: "pay:paid:1" in _data(m) and "o:ok:1" not in _data(m))
    owed = await h.emu.wait_for(WANG, lambda m: "pay:got:1" in _data(m))
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
    await wang_presses(h, told)
    ans = await h.person(WANG).press_data(owed, "pay:got:1")
    assert ans is not None and ans["show_alert"]
    await h.wait_edit(WANG, owed["message_id"], lambda m: "pay:got:1" not in _data(m))
    async with h.rt.db.read() as s:
        o = await s.get(Order, 1)
    assert o is not None and o.paid_at == paid and o.paid_confirmed_by == WANG


async def wang_presses(h: Harness, told: dict[str, Any]) -> None:
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


def _in_1h(h: Harness) -> datetime:
    return h.rt.clock.now() + timedelta(hours=1)


async def test_cancel_on_a_notice_sent_meanwhile_shows_it_as_sent(harness: Harness) -> None:
    h = harness
    a = await h.register(1001, "周阿姨", building_code="xf1")
    async with h.rt.db.session() as s:
        later = await notices.create(
            h.rt,
            s,
            STAFF,
            notices.GRID,
            "g1",
            "定时的通知",
            send_at=h.rt.clock.now() + timedelta(hours=1),
        )
    boss = h.person(STAFF)
    boss.say("/notices")
    listing = await boss.expect(lambda m: f"n:x:{later.id}" in _data(m))
    h.advance(hours=2)
    assert (await h.sweep())["scheduled notices"] == 1
    await a.expect("定时的通知")
    # ✖️ on the listing made before it went out: refused; the listing shows it as sent.
    ans = await boss.press_data(listing, f"n:x:{later.id}")
    assert ans is not None and ans["show_alert"]
    shown = await h.wait_edit(
        STAFF, listing["message_id"], lambda m: f"n:rs:{later.id}" in _data(m)
    )
    assert f"n:x:{later.id}" not in _data(shown) and "定时的通知" in text_of(shown)
    async with h.rt.db.read() as s:
        n = await s.get(Notice, later.id)
    assert n is not None and n.cancelled_at is None and n.sent_at is not None

    # A scheduled one cancelled twice (a double tap): once; the message says it is cancelled.
    async with h.rt.db.session() as s:
        other = await notices.create(
            h.rt,
            s,
            STAFF,
            notices.GRID,
            "g1",
            "另一条",
            send_at=h.rt.clock.now() + timedelta(hours=1),
        )
    boss.say("/notices")
    listing = await boss.expect(lambda m: f"n:x:{other.id}" in _data(m))
    await boss.press_data(listing, f"n:x:{other.id}")
    await h.wait_edit(STAFF, listing["message_id"], lambda m: not buttons(m))
    ans = await boss.press_data(listing, f"n:x:{other.id}", force=True)
    assert ans is not None and ans["show_alert"]
    await h.wait_edit(
        STAFF, listing["message_id"], lambda m: Z(notice_handlers.CANCELLED) in text_of(m)
    )
    async with h.rt.db.read() as s:
        n = await s.get(Notice, other.id)
    assert n is not None and n.cancelled_at is not None and n.sent_at is None


async def test_a_care_flag_on_an_older_card_does_not_undo_a_newer_mark(harness: Harness) -> None:
    h = harness
    await h.register(1001, "周阿姨", room="101", phone="13800000001")
    rid = await _resident_id(h, 1001)
    boss = h.person(STAFF, "赵书记")
    boss.say("/care 13800000001")
    older = await boss.expect(lambda m: f"cr:flag:{rid}:elderly_alone" in _data(m))
    boss.say("/care 13800000001")
    newer = await boss.expect(
        lambda m: (
            f"cr:flag:{rid}:elderly_alone" in _data(m) and m["message_id"] > older["message_id"]
        )
    )
    await boss.press_data(newer, f"cr:flag:{rid}:elderly_alone")
    await h.wait_edit(STAFF, newer["message_id"], lambda m: "☑️" in str(m["reply_markup"]))
    # ⬜ on the older card (it offers to mark what is marked now): refused, not undone, and
    # the older card shows the household as it is.
    ans = await boss.press_data(older, f"cr:flag:{rid}:elderly_alone")
    assert ans is not None and ans["show_alert"]
    assert Z(care.CHANGED) in str(ans["text"])
    await h.wait_edit(STAFF, older["message_id"], lambda m: "☑️" in str(m["reply_markup"]))
    async with h.rt.db.read() as s:
        assert CareFlag.ELDERLY_ALONE in await care_flags.flags_of(s, rid)


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
        await transitions.confirm_receipt(h.rt, s, 1, 1001)
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
        await transitions.cancel_by_resident(h.rt, s, oid, 1001)
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


async def test_suspend_on_an_older_volunteer_list_shows_the_list_as_it_is(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    boss.say("/help")
    await boss.expect(lambda m: True)
    vid = await _volunteer_id(h, WANG)
    older = await _staff_screen(h)
    newer = await _staff_screen(h)
    await boss.press_data(newer, f"vs:s:{vid}")
    ask = await h.wait_edit(STAFF, newer["message_id"], lambda m: f"vs:sy:{vid}" in _data(m))
    await boss.press_data(ask, f"vs:sy:{vid}")
    await h.wait_edit(STAFF, newer["message_id"], lambda m: f"vs:r:{vid}" in _data(m))
    # ✖️ on the older list: he is suspended already; the list shows ↩️ for him now.
    ans = await boss.press_data(older, f"vs:s:{vid}")
    assert ans is not None and ans["show_alert"]
    shown = await h.wait_edit(STAFF, older["message_id"], lambda m: f"vs:r:{vid}" in _data(m))
    assert f"vs:s:{vid}" not in _data(shown)
    async with h.rt.db.read() as s:
        vol = await s.get(Volunteer, vid)
    assert vol is not None and vol.status == "suspended"


async def test_remove_on_an_older_staff_list_shows_the_list_as_it_is(harness: Harness) -> None:
    h = harness
    async with h.rt.db.session() as s:
        await ensure_admins(s, h.rt.clock, [ADMIN])
    admin = h.person(ADMIN, "孙老师")
    admin.say("/staff add 5001 grid_leader 第一网格 钱组长")
    await admin.expect(Z("✅ Added: {who}"))
    async with h.rt.db.read() as s:
        row_id = await s.scalar(select(Staff.id).where(Staff.telegram_id == 5001))
    admin.say("/staff")
    older = await admin.expect(lambda m: f"sf:rm:{row_id}" in _data(m))
    admin.say("/staff")
    newer = await admin.expect(
        lambda m: f"sf:rm:{row_id}" in _data(m) and m["message_id"] > older["message_id"]
    )
    await admin.press_data(newer, f"sf:rm:{row_id}")
    confirm = await h.wait_edit(
        ADMIN, newer["message_id"], lambda m: f"sf:yes:{row_id}" in _data(m)
    )
    await admin.press_data(confirm, f"sf:yes:{row_id}")
    await h.wait_edit(ADMIN, newer["message_id"], lambda m: f"sf:rm:{row_id}" not in _data(m))
    # ✖️ on the older list, and "Yes, remove" again: refused; each shows the list as it is.
    ans = await admin.press_data(older, f"sf:rm:{row_id}")
    assert ans is not None and ans["show_alert"]
    shown = await h.wait_edit(
        ADMIN, older["message_id"], lambda m: f"sf:rm:{row_id}" not in _data(m)
    )
    assert "(5001)" not in text_of(shown)
    ans = await admin.press_data(confirm, f"sf:yes:{row_id}", force=True)
    assert ans is not None and ans["show_alert"]
    await h.settle()
    assert await h.count(Staff, Staff.telegram_id == 5001) == 0


async def test_a_swap_asked_for_a_shift_taken_off_meanwhile_shows_the_shifts_now(
    harness: Harness,
) -> None:
    h = harness
    await _hello(h, WANG, LI)
    slot = roster.slot(h.rt, "day", h.rt.today() + timedelta(days=1))
    sid = await _put_on(h, slot, WANG)
    wang = h.person(WANG)
    wang.say("/shifts")
    mine = await wang.expect(lambda m: f"sw:p:{sid}" in _data(m))
    await wang.press_data(mine, f"sw:p:{sid}")
    li_id = await _volunteer_id(h, LI)
    pick = await h.wait_edit(WANG, mine["message_id"], lambda m: f"sw:r:{sid}:{li_id}" in _data(m))
    # The grid leader takes him off that shift meanwhile.
    async with h.rt.db.session() as s:
        await roster.set_shift(
            h.rt, s, STAFF, 1, slot.day, slot.template, await _volunteer_id(h, WANG), False
        )
    ans = await wang.press_data(pick, f"sw:r:{sid}:{li_id}")
    assert ans is not None and ans["show_alert"]
    nothing = Z("You have no shifts coming up. The grid leader sets the roster.")
    shown = await h.wait_edit(WANG, mine["message_id"], lambda m: nothing in text_of(m))
    assert buttons(shown) == []
    assert await h.count(ShiftSwap) == 0


async def test_naming_someone_suspended_meanwhile_shows_the_household_card(
    harness: Harness,
) -> None:
    h = harness
    await h.register(1001, "周阿姨", room="101", phone="13800000001")
    rid = await _resident_id(h, 1001)
    boss = h.person(STAFF, "赵书记")
    boss.say("/care 13800000001")
    card = await boss.expect(lambda m: f"cr:who:{rid}" in _data(m))
    await boss.press_data(card, f"cr:who:{rid}")
    who = await h.wait_edit(
        STAFF,
        card["message_id"],
        lambda m: (
            f"cr:as:{rid}:none" not in _data(m)
            and any(d.startswith(f"cr:as:{rid}:v") for d in _data(m))
        ),
    )
    wang_key = next(d for t, d in buttons(who) if "王刚" in t)
    async with h.rt.db.session() as s:
        await volunteers.suspend(h.rt, s, STAFF, volunteer_id=await _volunteer_id(h, WANG))
    h.rt.wake_outbox()
    ans = await boss.press_data(who, wang_key)
    assert ans is not None and ans["show_alert"]
    shown = await h.wait_edit(
        STAFF, card["message_id"], lambda m: f"cr:flag:{rid}:elderly_alone" in _data(m)
    )
    assert "13800000001" in text_of(shown)
    async with h.rt.db.read() as s:
        r = await s.get(Resident, rid)
    assert r is not None and r.responsible_telegram_id is None


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


async def test_send_now_pressed_twice_sends_one_notice(harness: Harness) -> None:
    h = harness
    a = await h.register(1001, "周阿姨", building_code="xf1")
    boss = h.person(STAFF)
    boss.say("/notice")
    whom = await boss.expect(Z("Send a notice to whom?"))
    await boss.press(whom, Z("🗺 A grid"))
    grids = await h.wait_edit(STAFF, whom["message_id"], lambda m: "n:t:g1" in _data(m))
    await boss.press(grids, "第一网格")
    boss.say("明早7点核酸检测")
    preview = await boss.expect(lambda m: "n:send" in _data(m))
    first, second = await asyncio.gather(
        boss.press_data(preview, "n:send"), boss.press_data(preview, "n:send")
    )
    answers = [x for x in (first, second) if x is not None]
    assert sum(bool(x.get("show_alert")) for x in answers) == 1  # the second: out of date
    await h.wait_edit(STAFF, preview["message_id"], lambda m: buttons(m) == [])
    await h.settle()
    assert await h.count(Notice) == 1
    assert len([m for m in a.chat() if "明早7点" in text_of(m)]) == 1


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
