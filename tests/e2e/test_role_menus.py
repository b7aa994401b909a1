"""A change of role brings its menu at once (issue 15, a loose end of point 8): the message
that tells a volunteer they are approved carries the volunteer's menu, a rejected or
suspended volunteer gets the resident's menu back (or none), and someone made staff in the
bot gets the staff's menu with the news, not at their next /help."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.seed import ensure_admins
from handlers import keyboards
from handlers.admin import STAFF_ADDED, STAFF_REMOVED
from models import Volunteer
from tests.e2e.test_volunteer_join import _sign_up
from tests.factories import STAFF, VOLUNTEERS_1, Harness, Person, Z, buttons, text_of

WANG = VOLUNTEERS_1[0]  # 王刚, an approved volunteer of 第一网格
ADMIN = 9100


def _menu(msg: dict[str, Any]) -> list[str]:
    """The labels of the chat keyboard a message brought."""
    rows = (msg.get("reply_markup") or {}).get("keyboard") or []
    return [b["text"] for row in rows for b in row]


def _volunteer_menu(msg: dict[str, Any]) -> bool:
    return Z(keyboards.VOLUNTEER_TASKS) in _menu(msg) and Z(keyboards.VOLUNTEER_DUTY) in _menu(msg)


async def _decision(h: Harness, tid: int, name: str) -> tuple[Person, dict[str, Any], int]:
    boss = h.person(STAFF)
    boss.say("/help")
    await _sign_up(h, tid, name)
    ask = await boss.expect(name)
    async with h.rt.db.read() as s:
        vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == tid))
    assert vid is not None
    return boss, ask, vid


async def test_the_approval_brings_the_volunteer_menu(harness: Harness) -> None:
    h = harness
    chen = await h.register(4001, "小陈")  # lives here: the resident's menu so far
    boss, ask, vid = await _decision(h, 4001, "小陈")
    assert not any(_volunteer_menu(m) for m in chen.chat())
    await boss.press_data(ask, f"v:ok:{vid}")
    welcome = await chen.expect(lambda m: "第一网格" in text_of(m) and bool(_menu(m)))
    assert text_of(welcome).startswith("欢迎加入第一网格的志愿者")
    menu = _menu(welcome)
    assert "🧾 我的任务" in menu and "🟢 上班/下班" in menu and "🗓 我的班次" in menu
    assert Z(keyboards.MENU_ORDER) in menu  # they live here: their own orders too
    assert not set(menu) & {Z(label) for label in keyboards.STAFF_LABELS}
    # The button to go on duty follows, as /duty shows it, and works.
    duty = await chen.expect(lambda m: ("🟢 上班", "v:duty:on") in buttons(m))
    await chen.press_data(duty, "v:duty:on")
    await h.wait_edit(4001, duty["message_id"], lambda m: "v:duty:off" in str(m))
    # The menu's 🧾 works straight away.
    chen.say("🧾 我的任务")
    await chen.expect(lambda m: m["message_id"] > duty["message_id"])


async def test_a_rejected_volunteer_keeps_the_resident_menu(harness: Harness) -> None:
    h = harness
    chen = await h.register(4001, "小陈")
    boss, ask, vid = await _decision(h, 4001, "小陈")
    await boss.press_data(ask, f"v:no:{vid}")
    told = await chen.expect("谢谢您愿意帮忙")
    assert _menu(told) and Z(keyboards.MENU_ORDER) in _menu(told)
    assert not _volunteer_menu(told)


async def test_a_suspended_volunteer_loses_the_menu_and_gets_it_back(harness: Harness) -> None:
    h = harness
    wang = h.person(WANG, "王刚")
    wang.say("/help")
    helped = await wang.expect(lambda m: bool(_menu(m)))
    assert _volunteer_menu(helped)
    async with h.rt.db.read() as s:
        vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == WANG))
    boss = h.person(STAFF)
    boss.say("/volunteers")
    pick = await boss.expect(lambda m: "vs:g:1" in [d for _, d in buttons(m)])
    await boss.press_data(pick, "vs:g:1")
    screen = await h.wait_edit(STAFF, pick["message_id"], lambda m: f"vs:s:{vid}" in str(m))
    await boss.press_data(screen, f"vs:s:{vid}")
    ask = await h.wait_edit(STAFF, pick["message_id"], lambda m: f"vs:sy:{vid}" in str(m))
    await boss.press_data(ask, f"vs:sy:{vid}")
    paused = await wang.expect("社区工作人员暂停了您在第一网格的志愿者服务")
    # He does not live here: the volunteer's menu is taken away, nothing in its place.
    assert (paused.get("reply_markup") or {}).get("remove_keyboard") is True
    done = await h.wait_edit(STAFF, pick["message_id"], lambda m: f"vs:r:{vid}" in str(m))
    await boss.press_data(done, f"vs:r:{vid}")
    ask = await h.wait_edit(STAFF, pick["message_id"], lambda m: f"vs:ry:{vid}" in str(m))
    await boss.press_data(ask, f"vs:ry:{vid}")
    back = await wang.expect("欢迎回来！您可以继续在第一网格做志愿者了")
    assert _volunteer_menu(back)
    await wang.expect(lambda m: ("🟢 上班", "v:duty:on") in buttons(m))


async def test_someone_made_staff_gets_the_staff_menu_at_once(harness: Harness) -> None:
    h = harness
    async with h.rt.db.session() as s:
        await ensure_admins(s, h.rt.clock, [ADMIN])
    admin = h.person(ADMIN, "孙老师")
    qian = await h.register(5001, "钱组长")  # a resident so far
    admin.say("/staff add 5001 grid_leader 第一网格 钱组长")
    await admin.expect("钱组长")
    told = await qian.expect(Z(STAFF_ADDED).split("{")[0])
    assert "第一网格" in text_of(told)
    menu = _menu(told)
    assert "📊 统计" in menu and "🗓 排班" in menu and Z(keyboards.MENU_ORDER) in menu
    # Removed again (✖️, confirm): the resident's menu comes back with the news.
    admin.say("/staff")
    listing = await admin.expect(lambda m: any("钱组长" in t for t, _ in buttons(m)))
    rm = next(d for t, d in buttons(listing) if "钱组长" in t)
    await admin.press_data(listing, rm)
    confirm = await h.wait_edit(
        ADMIN, listing["message_id"], lambda m: any(d.startswith("sf:yes:") for _, d in buttons(m))
    )
    await admin.press_data(confirm, next(d for _, d in buttons(confirm) if d.startswith("sf:yes:")))
    gone = await qian.expect(Z(STAFF_REMOVED).split("{")[0])
    assert Z(keyboards.MENU_ORDER) in _menu(gone) and "📊 统计" not in _menu(gone)
    await h.settle()
