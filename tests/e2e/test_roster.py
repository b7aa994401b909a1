"""The duty roster end to end: staff set it in the bot (others are refused), volunteers swap a
shift, the reminder before a shift and the handover post at a shift change, each once, also
across a restart."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.clock import local_day
from bot.services import roster
from bot.services.orders import drafts, transitions
from handlers.help import HELP_STAFF_ROSTER, HELP_VOLUNTEER_SHIFTS
from models import Handover, Shift, ShiftSwap, Volunteer
from tests.factories import (
    ANSWERS,
    GROUP_1,
    GROUP_2,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Z,
    buttons,
    text_of,
)

WANG, LI, ZHANG = VOLUNTEERS_1[:3]  # 王刚, 李娜, 张伟


async def _hello(h: Harness, *tids: int) -> None:
    """Each has a private chat with the bot (as on Telegram), its answer already read."""
    for tid in tids:
        p = h.person(tid)
        p.say("/help")
        await p.expect(lambda m: True)


def _has(prefix: str) -> Any:
    return lambda m: any(d.startswith(prefix) for _, d in buttons(m))


async def _volunteer_id(h: Harness, tid: int) -> int:
    async with h.rt.db.read() as s:
        vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == tid))
    assert vid is not None
    return vid


async def _put_on(h: Harness, s: roster.Slot, tid: int) -> int:
    """Staff put a volunteer on a shift (the service the buttons call); returns the shift id."""
    vid = await _volunteer_id(h, tid)
    async with h.rt.db.session() as session:
        await roster.set_shift(h.rt, session, STAFF, 1, s.day, s.template, vid, True)
    h.rt.wake_outbox()
    await h.settle()
    async with h.rt.db.read() as session:
        sid = await session.scalar(
            select(Shift.id).where(Shift.volunteer_id == vid, Shift.starts_at == s.starts_at)
        )
    assert sid is not None
    return sid


def _next_slot(h: Harness, lead: timedelta = timedelta(minutes=30)) -> roster.Slot:
    """The next shift change at least ``lead`` away."""
    now = h.rt.clock.now()
    today = h.rt.today()
    later = [
        s
        for d in (today, today + timedelta(days=1))
        for s in roster.slots_of_day(h.rt, d)
        if s.starts_at > now + lead
    ]
    return min(later, key=lambda s: s.starts_at)


def _advance_to(h: Harness, when: Any) -> None:
    h.advance(seconds=(when - h.rt.clock.now()).total_seconds())


def _ymd(d: date) -> str:
    return f"{d:%Y%m%d}"


async def test_staff_set_the_roster_in_the_bot_and_a_volunteer_is_refused(
    harness: Harness,
) -> None:
    h = harness
    boss = h.person(STAFF)
    wang = h.person(WANG)
    # /help names the commands to each: /shifts to volunteers, /roster to staff.
    wang.say("/help")
    await wang.expect(Z(HELP_VOLUNTEER_SHIFTS))
    boss.say("/help")
    await boss.expect(Z(HELP_STAFF_ROSTER))
    boss.say("/roster")
    # Community staff: both grids of the community.
    grids = await boss.expect(_has("r:g:"))
    assert [d for _, d in buttons(grids)] == ["r:g:1", "r:g:2"]
    await boss.press_data(grids, "r:g:1")
    week = await h.wait_edit(STAFF, grids["message_id"], _has("r:d:1:"))
    assert Z("Duty roster of {grid}") in text_of(week) and "第一网格" in text_of(week)
    day = h.rt.today() + timedelta(days=1)
    await boss.press(week, Z("Tomorrow"))
    shifts = await h.wait_edit(STAFF, grids["message_id"], _has(f"r:t:1:{_ymd(day)}:"))
    labels = [t for t, _ in buttons(shifts)]
    assert any(Z("Day shift") in t and "08:00–20:00" in t for t in labels)
    assert any(Z("Night shift") in t and "20:00–08:00" in t for t in labels)
    await boss.press_data(shifts, f"r:t:1:{_ymd(day)}:night")
    editor = await h.wait_edit(STAFF, grids["message_id"], _has(f"r:v:1:{_ymd(day)}:night:"))
    names = [t for t, _ in buttons(editor)]
    assert "▫️ 王刚" in names and "▫️ 刘洋" in names
    vid = await _volunteer_id(h, WANG)
    put_on = f"r:v:1:{_ymd(day)}:night:{vid}:1"
    await boss.press_data(editor, put_on)
    editor = await h.wait_edit(STAFF, grids["message_id"], lambda m: "✅ 王刚" in str(buttons(m)))
    assert Z("On this shift: {names}") in text_of(editor) and "王刚" in text_of(editor)
    # The database holds the shift, in UTC, made by the staff member.
    night = roster.slot(h.rt, "night", day)
    async with h.rt.db.read() as s:
        rows = (await s.scalars(select(Shift))).all()
    assert [
        (r.grid_id, r.volunteer_id, r.template, r.starts_at, r.ends_at, r.created_by) for r in rows
    ] == [(1, vid, "night", night.starts_at, night.ends_at, STAFF)]
    # The volunteer is told, and sees it with /shifts.
    told = await wang.expect(
        Z("📅 You are on the roster: {shift}, {grid}. I will remind you before it starts.")
    )
    assert Z("Night shift") in text_of(told) and "20:00–08:00" in text_of(told)
    # A redelivered press of the old button changes nothing.
    await boss.press_data(editor, put_on, force=True)
    assert await h.count(Shift) == 1
    wang.say("/shifts")
    mine = await wang.expect(_has("sw:p:"))
    assert Z("📅 Your shifts:") in text_of(mine) and "第一网格" in text_of(mine)

    # A volunteer is refused /roster, and a forged press changes nothing.
    wang.say("/roster")
    refusal = await wang.expect(
        Z("Only the grid leader or community staff can set the duty roster.")
    )
    qid = h.emu.press(
        WANG, WANG, refusal["message_id"], f"r:v:1:{_ymd(day)}:day:{vid}:1", force=True
    )
    ans = await h.emu.wait_callback_answer(qid, 10)
    assert ans is not None and ans.get("show_alert")
    assert Z("Only the grid leader or community staff can set the duty roster.") in ans["text"]
    assert await h.count(Shift) == 1

    # Taking the volunteer off the shift.
    await boss.press_data(editor, f"r:v:1:{_ymd(day)}:night:{vid}:0")
    await h.wait_edit(STAFF, grids["message_id"], lambda m: "▫️ 王刚" in str(buttons(m)))
    assert await h.count(Shift) == 0
    await wang.expect(Z("📅 You are no longer on the roster for {shift}, {grid}."))


async def test_a_swap_requested_and_accepted_then_stale_presses(harness: Harness) -> None:
    h = harness
    await _hello(h, WANG, LI, ZHANG)
    day = h.rt.today() + timedelta(days=1)
    sid = await _put_on(h, roster.slot(h.rt, "day", day), WANG)
    wang, li, zhang = h.person(WANG), h.person(LI), h.person(ZHANG)
    for p in (wang, li, zhang):
        p.seen = max(m["message_id"] for m in p.chat())
    li_id, zhang_id = await _volunteer_id(h, LI), await _volunteer_id(h, ZHANG)

    wang.say("/shifts")
    mine = await wang.expect(_has("sw:p:"))
    await wang.press_data(mine, f"sw:p:{sid}")
    pick = await h.wait_edit(WANG, mine["message_id"], _has("sw:r:"))
    names = [t for t, d in buttons(pick) if d.startswith("sw:r:")]
    assert names == ["李娜", "张伟", "刘洋"]  # the grid's other volunteers, not 王刚
    await wang.press_data(pick, f"sw:r:{sid}:{li_id}")
    asked = await h.wait_edit(WANG, mine["message_id"], lambda m: "李娜" in text_of(m))
    assert Z(
        "🔁 I asked {name} to take your shift: {shift}. I will tell you the answer."
    ) in text_of(asked)
    # 王刚 asks 张伟 too; whoever accepts first takes it.
    await wang.press_data(asked, "sw:l")
    again = await h.wait_edit(WANG, mine["message_id"], _has("sw:p:"))
    await wang.press_data(again, f"sw:p:{sid}")
    pick = await h.wait_edit(WANG, mine["message_id"], _has("sw:r:"))
    await wang.press_data(pick, f"sw:r:{sid}:{zhang_id}")
    await h.wait_edit(WANG, mine["message_id"], lambda m: "张伟" in text_of(m))

    request = await li.expect(_has("sw:a:"))
    assert "王刚" in text_of(request) and Z("Day shift") in text_of(request)
    assert "08:00–20:00" in text_of(request)
    to_zhang = await zhang.expect(_has("sw:a:"))
    accept = next(d for _, d in buttons(request) if d.startswith("sw:a:"))
    await li.press_data(request, accept)
    took = await h.wait_edit(LI, request["message_id"], lambda m: not buttons(m))
    assert Z(
        "✅ You took the shift from {name}: {shift}, {grid}. I will remind you before it starts."
    ) in text_of(took)
    told = await wang.expect(Z("✅ {name} took your shift: {shift}, {grid}."))
    assert "李娜" in text_of(told)
    async with h.rt.db.read() as s:
        shift = await s.get(Shift, sid)
        swaps = {sw.to_volunteer_id: sw.status for sw in await s.scalars(select(ShiftSwap))}
    assert shift is not None and shift.volunteer_id == li_id
    assert swaps == {li_id: "accepted", zhang_id: "withdrawn"}

    # A second accept, and 张伟's now stale request, get a clear refusal; nothing moves.
    ans = await li.press_data(request, accept, force=True)
    assert ans is not None and Z("This request was already accepted.") in ans["text"]
    zhang_accept = next(d for _, d in buttons(to_zhang) if d.startswith("sw:a:"))
    ans = await zhang.press_data(to_zhang, zhang_accept)
    assert ans is not None and ans.get("show_alert")
    assert Z("This request is no longer open: the shift has been taken or changed.") in ans["text"]
    async with h.rt.db.read() as s:
        shift = await s.get(Shift, sid)
    assert shift is not None and shift.volunteer_id == li_id
    # The shift is in 李娜's list now, no longer in 王刚's.
    li.say("/shifts")
    assert f"sw:p:{sid}" in str((await li.expect(_has("sw:p:"))).get("reply_markup"))
    wang.say("/shifts")
    await wang.expect(Z("You have no shifts coming up. The grid leader sets the roster."))


async def test_a_swap_declined(harness: Harness) -> None:
    h = harness
    await _hello(h, WANG, LI, ZHANG)
    day = h.rt.today() + timedelta(days=2)
    sid = await _put_on(h, roster.slot(h.rt, "night", day), WANG)
    wang, li, zhang = h.person(WANG), h.person(LI), h.person(ZHANG)
    for p in (wang, li, zhang):
        p.seen = max(m["message_id"] for m in p.chat())
    async with h.rt.db.session() as s:
        sw = await roster.request_swap(h.rt, s, WANG, sid, await _volunteer_id(h, LI))
    h.rt.wake_outbox()
    request = await li.expect(_has("sw:n:"))
    # Someone else pressing it (forged) is refused.
    other = zhang.chat()[-1]
    qid = h.emu.press(ZHANG, ZHANG, other["message_id"], f"sw:a:{sw.id}", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10)
    assert (
        ans is not None
        and Z("This button is out of date or not for you. Nothing was changed.") in ans["text"]
    )
    await li.press_data(request, f"sw:n:{sw.id}")
    declined = await h.wait_edit(LI, request["message_id"], lambda m: not buttons(m))
    assert Z("You declined to take the shift {shift}; {name} has been told.") in text_of(declined)
    told = await wang.expect(
        Z("✖️ {name} cannot take your shift: {shift}. Send /shifts to ask someone else.")
    )
    assert "李娜" in text_of(told)
    ans = await li.press_data(request, f"sw:a:{sw.id}", force=True)
    assert ans is not None and Z("This request was already declined.") in ans["text"]
    async with h.rt.db.read() as s:
        shift = await s.get(Shift, sid)
        swap = await s.get(ShiftSwap, sw.id)
    assert shift is not None and shift.volunteer_id == await _volunteer_id(h, WANG)
    assert swap is not None and swap.status == "declined"


def _reminders(h: Harness, tid: int) -> list[dict[str, Any]]:
    return [m for m in h.person(tid).chat() if text_of(m).startswith("⏰")]


async def test_the_reminder_comes_once_before_the_shift(harness: Harness) -> None:
    h = harness
    await _hello(h, WANG)
    wang = h.person(WANG)
    s = _next_slot(h)
    sid = await _put_on(h, s, WANG)
    minutes = h.rt.settings.roster.reminder_minutes
    _advance_to(h, s.starts_at - timedelta(minutes=minutes + 1))
    await h.sweep()
    assert _reminders(h, WANG) == []
    h.advance(minutes=2)
    await h.sweep()
    await h.sweep()
    reminder = await wang.expect(Z("⏰ Your shift starts soon: {shift}, {grid}."))
    assert local_day(s.starts_at, h.rt.timezone).strftime("%m-%d") in text_of(reminder)
    assert "v:duty:on" in [d for _, d in buttons(reminder)]
    assert len(_reminders(h, WANG)) == 1
    async with h.rt.db.read() as session:
        shift = await session.get(Shift, sid)
    assert shift is not None and shift.reminded_at is not None
    # After a restart, still once; the button works on the new instance.
    await h.restart()
    await h.sweep()
    h.advance(minutes=minutes)
    await h.sweep()
    assert len(_reminders(h, WANG)) == 1
    await wang.press_data(reminder, "v:duty:on")
    await h.wait_edit(WANG, reminder["message_id"], _has("v:duty:off"))
    async with h.rt.db.read() as session:
        vol = await session.scalar(select(Volunteer).where(Volunteer.telegram_id == WANG))
    assert vol is not None and vol.on_duty_since is not None


async def _order(h: Harness, kind: str) -> int:
    async with h.rt.db.session() as s:
        d = await drafts.start_draft(h.rt, s, 1001, category=kind)
        await drafts.update_draft(h.rt, s, d.id, 1001, urgency="today", **ANSWERS[kind])
        oid = (await drafts.submit_draft(h.rt, s, d.id, 1001)).order.id
    h.rt.wake_outbox()
    await h.settle()
    return oid


def _handovers(h: Harness, chat: int) -> list[dict[str, Any]]:
    head = Z("Shift handover · {grid}")
    return [m for m in h.emu.messages(chat) if m["outgoing"] and head in text_of(m)]


async def test_the_handover_post_lists_open_and_active_tasks_once(harness: Harness) -> None:
    h = harness
    s = _next_slot(h)
    if s.starts_at - h.rt.clock.now() > timedelta(hours=10):
        # So that the change before it is more than an hour ago: no handover of its own.
        h.advance(hours=2)
    before = next(
        p
        for d in (s.day - timedelta(days=1), s.day)
        for p in roster.slots_of_day(h.rt, d)
        if p.ends_at == s.starts_at
    )
    await _put_on(h, before, WANG)
    await _put_on(h, s, LI)
    _advance_to(h, s.starts_at - timedelta(minutes=5))
    await h.register(1001, "周阿姨", phone="13800001001", room="302")
    waiting = await _order(h, "groceries")
    running = await _order(h, "medicine")
    async with h.rt.db.session() as session:
        await transitions.claim(h.rt, session, running, ZHANG)
    await h.sweep()
    assert _handovers(h, GROUP_1) == []

    h.advance(minutes=6)
    await h.sweep()
    await h.sweep()
    post = await h.emu.wait_for(GROUP_1, Z("Shift handover · {grid}"))
    text = text_of(post)
    assert "第一网格" in text
    label = Z("Night shift") if s.template == "night" else Z("Day shift")
    assert label in text
    assert Z("On this shift: {names}") in text and "李娜" in text
    assert Z("Handing over: {names}") in text and "王刚" in text
    lines = text.splitlines()
    open_line = next(line for line in lines if f"#{waiting} " in line)
    active_line = next(line for line in lines if f"#{running} " in line)
    assert "幸福小区 1栋" in open_line
    assert "张伟" in active_line and Z("taken") in active_line
    assert Z("Open tasks: {n}") in text and Z("Tasks under way: {n}") in text
    assert (f"🙋 #{waiting}", f"o:claim:{waiting}") in buttons(post)
    # Privacy: no phone, room or resident name in the group.
    assert "13800001001" not in text and "302" not in text and "周阿姨" not in text
    # Once: more sweeps, a restart, another sweep.
    await h.restart()
    await h.sweep()
    h.advance(minutes=10)
    await h.sweep()
    assert len(_handovers(h, GROUP_1)) == 1
    assert await h.count(Handover, Handover.grid_id == 1) == 1
    # The second grid keeps no roster: no handover there.
    assert _handovers(h, GROUP_2) == []
    assert await h.count(Handover) == 1
