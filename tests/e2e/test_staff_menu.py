"""Staff and volunteers work by buttons (issue 15 point 8): each gets a menu of their own under
the text field (a resident keeps the resident's menu), staff /help starts with staff work, and
every button of those menus does exactly what its command does."""

from __future__ import annotations

from typing import Any

from handlers import alerts as alert_handlers
from handlers import keyboards, reports
from handlers.help import HELP_RESIDENT, HELP_STAFF_MENU, HELP_VOLUNTEER_MENU
from handlers.notices import ASK_AUDIENCE
from handlers.registration import CHANGE_ADDRESS, STAFF_WELCOME
from handlers.reports import PREPARING
from tests.factories import STAFF, VOLUNTEERS_1, Harness, Person, Z, buttons, text_of

WANG = VOLUNTEERS_1[0]  # 王刚, an approved volunteer of 第一网格


def _menu(msg: dict[str, Any]) -> list[str]:
    """The labels of the chat keyboard a message brought."""
    rows = (msg.get("reply_markup") or {}).get("keyboard") or []
    return [b["text"] for row in rows for b in row]


async def _next(p: Person) -> dict[str, Any]:
    return await p.expect(lambda m: True)


async def test_each_role_gets_its_own_menu(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    boss, wang = h.person(STAFF, "赵书记"), h.person(WANG, "王刚")
    await h.settle()
    for p in (aunt, boss, wang):
        p.seen = max([m["message_id"] for m in p.chat()] or [0])

    boss.say("/help")
    helped = await boss.expect(Z(HELP_STAFF_MENU))
    # Staff work comes first; the resident's part after it.
    assert text_of(helped).index(Z(HELP_STAFF_MENU)) < text_of(helped).index(Z(HELP_RESIDENT))
    staff_menu = _menu(helped)
    for label in (*keyboards.STAFF_LABELS, keyboards.MENU_HELP):
        assert Z(label) in staff_menu, label
    assert "📊 统计" in staff_menu and "📋 待办" in staff_menu and "🧡 关爱名单" in staff_menu
    assert Z(keyboards.MENU_ORDER) not in staff_menu  # not a resident here

    wang.say("/help")
    helped = await wang.expect(Z(HELP_VOLUNTEER_MENU))
    assert text_of(helped).startswith(Z(HELP_VOLUNTEER_MENU)[:6])
    volunteer_menu = _menu(helped)
    assert "🧾 我的任务" in volunteer_menu and "🟢 上班/下班" in volunteer_menu
    assert not set(volunteer_menu) & {Z(label) for label in keyboards.STAFF_LABELS}

    aunt.say("/help")
    helped = await aunt.expect(Z(HELP_RESIDENT))
    resident_menu = _menu(helped)
    assert Z(keyboards.MENU_ORDER) in resident_menu
    assert not set(resident_menu) & {
        Z(label) for label in (*keyboards.STAFF_LABELS, *keyboards.VOLUNTEER_LABELS)
    }

    # Staff who are not residents are not asked for a home address by /start: their menu,
    # and a button for those who also live here.
    boss.say("/start")
    welcome = await boss.expect(Z(STAFF_WELCOME))
    assert "📊 统计" in _menu(welcome)
    offer = await boss.expect(lambda m: bool(buttons(m)))
    assert buttons(offer)[0][1] == CHANGE_ADDRESS.data()


async def _same(p: Person, command: str, label: str) -> None:
    """The label answers as its command does (same text, same buttons)."""
    p.say(command)
    by_command = await _next(p)
    p.say(Z(label))
    by_button = await _next(p)
    assert text_of(by_button) == text_of(by_command), (label, text_of(by_button))
    assert [t for t, _ in buttons(by_button)] == [t for t, _ in buttons(by_command)]


async def test_each_menu_button_does_what_its_command_does(harness: Harness) -> None:
    h = harness
    boss, wang = h.person(STAFF, "赵书记"), h.person(WANG, "王刚")
    for p in (boss, wang):
        p.say("/help")
        await _next(p)
    await h.settle()

    await _same(boss, "/stats", keyboards.STAFF_STATS)
    await _same(boss, "/care", keyboards.STAFF_CARE)
    await _same(boss, "/notices", keyboards.STAFF_NOTICES)
    await _same(boss, "/roster", keyboards.STAFF_ROSTER)
    await _same(boss, "/volunteers", keyboards.STAFF_VOLUNTEERS)
    await _same(boss, "/repeats", keyboards.STAFF_REPEATS)
    await _same(boss, "/places", keyboards.STAFF_PLACES)
    boss.say(Z(keyboards.STAFF_TODO))
    await boss.expect(Z(alert_handlers.NOTHING_TO_DO))
    boss.say(Z(keyboards.STAFF_NOTICE))
    whom = await boss.expect(Z(ASK_AUDIENCE))
    assert any(d.startswith("n:a:") for _, d in buttons(whom))
    boss.say("/cancel")
    await _next(boss)
    boss.say(Z(keyboards.STAFF_EXPORT))  # which days, then that ledger
    which = await boss.expect(Z(reports.WHICH_PERIOD))
    assert [label for label, _ in buttons(which)] == [
        Z(reports.TODAY),
        Z(reports.YESTERDAY),
        Z(reports.LAST_7),
        Z(reports.THIS_MONTH),
        Z(reports.LAST_MONTH),
    ]
    await boss.press(which, Z(reports.TODAY))
    await boss.expect(Z(PREPARING))
    await boss.expect(lambda m: m.get("document") is not None, timeout=60)

    await _same(wang, "/mytasks", keyboards.VOLUNTEER_TASKS)
    await _same(wang, "/duty", keyboards.VOLUNTEER_DUTY)
    await _same(wang, "/shifts", keyboards.VOLUNTEER_SHIFTS)
    await _same(wang, "/history", keyboards.VOLUNTEER_HISTORY)
    await h.settle()


async def test_staff_who_live_here_keep_their_menu_with_their_orders(harness: Harness) -> None:
    h = harness
    boss = await h.register(STAFF, "赵书记", room="301")
    boss.seen = max([m["message_id"] for m in boss.chat()] or [0])
    boss.say("/help")
    helped = await boss.expect(Z(HELP_STAFF_MENU))
    menu = _menu(helped)
    assert "📊 统计" in menu and Z(keyboards.MENU_ORDER) in menu
    assert Z(keyboards.MENU_MY_ORDERS) in menu
    # 📋 My orders answers with the same menu: the staff's, not the resident's.
    boss.say(Z(keyboards.MENU_MY_ORDERS))
    mine = await boss.expect(lambda m: bool(_menu(m)))
    assert _menu(mine) == menu
