"""Issue 15, point 1, the staff's and volunteers' messages (test_stale_buttons.py has the
residents'): a press on an older message never acts on a past state; it is answered with what
is true now, and the message shows the present (only the buttons that still apply, or none).
Shift swaps, a volunteer's approval, suspension, the staff list, /notices, the /care card."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.seed import ensure_admins
from bot.services import (
    care,
    care_flags,
    notices,
    roster,
    suspension,
)
from handlers import notice_receipts as notice_handlers
from models import (
    CareFlag,
    Notice,
    Resident,
    Shift,
    ShiftSwap,
    Staff,
    Volunteer,
)
from tests.e2e.test_admin import ADMIN
from tests.e2e.test_care import _resident_id
from tests.e2e.test_roster import _hello, _put_on, _volunteer_id
from tests.e2e.test_suspension import _staff_screen
from tests.e2e.test_volunteer_join import _sign_up
from tests.factories import STAFF, VOLUNTEERS_1, Harness, Z, buttons, text_of
from tests.factories import button_data as _data

WANG, LI, ZHANG = VOLUNTEERS_1[:3]  # 王刚, 李娜, 张伟


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
    boss, leader = h.person(STAFF), await h.add_grid_leader(5001, "网格长", grid_id=1)
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


def _in_1h(h: Harness) -> datetime:
    return h.rt.clock.now() + timedelta(hours=1)


async def test_cancel_on_a_notice_sent_meanwhile_shows_it_as_sent(harness: Harness) -> None:
    h = harness
    # The test's sweep sends it, not the JobQueue's between the test's advance and sweep.
    await h.own_the_sweep()
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
        await suspension.suspend(h.rt, s, STAFF, volunteer_id=await _volunteer_id(h, WANG))
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
