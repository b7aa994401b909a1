"""Staff suspend a volunteer from the bot (/volunteers, ✖️, confirm) while they run a task: the
task goes back to the group, their old card and buttons reveal nothing, they cannot claim and
are not pinged; reinstated (↩️), they can claim again. Everything is in the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.services.orders import drafts
from bot.services.people import SUSPENDED
from handlers.help import HELP_STAFF_VOLUNTEERS
from models import AuditEntry, Order, Volunteer, VolunteerStatus
from tests.factories import (
    ANSWERS,
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Z,
    buttons,
    text_of,
)

RUNNER, OTHER = VOLUNTEERS_1[0], VOLUNTEERS_1[1]  # 王刚, 李娜
PHONE, ROOM = "13812345678", "502"


def _has(data: str) -> Any:
    return lambda m: data in [d for _, d in buttons(m)]


async def _go_on_duty(h: Harness, tid: int) -> None:
    p = h.person(tid)
    p.say("/duty")
    off = await p.expect(_has("v:duty:on"))
    await p.press_data(off, "v:duty:on")
    await h.wait_edit(tid, off["message_id"], _has("v:duty:off"))


async def _order(h: Harness) -> int:
    async with h.rt.db.session() as s:
        d = await drafts.start_draft(h.rt, s, 1001, category="groceries")
        await drafts.update_draft(h.rt, s, d.id, 1001, urgency="today", **ANSWERS["groceries"])
        oid = (await drafts.submit_draft(h.rt, s, d.id, 1001)).order.id
    h.rt.wake_outbox()
    await h.settle()
    return oid


def _private_data(text: str) -> bool:
    return PHONE in text or "周阿姨" in text or f"-{ROOM}" in text


async def _volunteer_id(h: Harness, tid: int) -> int:
    async with h.rt.db.read() as s:
        vid = await s.scalar(select(Volunteer.id).where(Volunteer.telegram_id == tid))
    assert vid is not None
    return vid


async def _staff_screen(h: Harness) -> dict[str, Any]:
    """赵书记 (community staff, two grids) opens /volunteers and picks 第一网格."""
    boss = h.person(STAFF)
    boss.say("/volunteers")
    pick = await boss.expect(_has("vs:g:1"))
    assert _has("vs:g:2")(pick)  # both grids of the community are in scope
    await boss.press_data(pick, "vs:g:1")
    return await h.wait_edit(STAFF, pick["message_id"], lambda m: "vs:s:" in str(buttons(m)))


async def test_a_suspended_volunteer_loses_the_task_the_card_and_the_claim(
    harness: Harness,
) -> None:
    h = harness
    resident = await h.register(1001, "周阿姨", phone=PHONE, room=ROOM)
    runner, other, boss = h.person(RUNNER), h.person(OTHER), h.person(STAFF)
    boss.say("/help")
    await boss.expect(Z(HELP_STAFF_VOLUNTEERS))  # staff /help names /volunteers
    for tid in (RUNNER, OTHER):
        await _go_on_duty(h, tid)

    # 王刚 claims in the group and buys: his card holds the address and the phone.
    oid = await _order(h)
    post = await h.emu.wait_for(GROUP_1, _has(f"o:claim:{oid}"))
    await runner.press_data(post, f"o:claim:{oid}")
    card = await runner.expect(_has(f"o:buy:{oid}"))
    assert _private_data(text_of(card))
    await runner.press_data(card, f"o:buy:{oid}")
    card = await h.wait_edit(RUNNER, card["message_id"], _has(f"o:go:{oid}"))
    runner.say("/mytasks")  # a copy of the card, with live buttons, sent directly
    copy = await runner.expect(_has(f"o:go:{oid}"))
    await h.settle()

    # The staff screen lists him with ✖️; suspending asks first, then does it.
    vid = await _volunteer_id(h, RUNNER)
    screen = await _staff_screen(h)
    assert Z("👥 Volunteers of {grid} ({n}):") in text_of(screen)
    assert ("✖️ 停用 王刚", f"vs:s:{vid}") in buttons(screen)
    await boss.press_data(screen, f"vs:s:{vid}")
    ask = await h.wait_edit(STAFF, screen["message_id"], _has(f"vs:sy:{vid}"))
    assert "王刚" in text_of(ask)
    async with h.rt.db.read() as s:  # asking changed nothing
        assert (await s.get(Volunteer, vid)).status == VolunteerStatus.APPROVED
    seen_by_runner = max(m["message_id"] for m in runner.chat())
    await boss.press_data(ask, f"vs:sy:{vid}")
    done = await h.wait_edit(
        STAFF, screen["message_id"], lambda m: text_of(m).startswith("✖️ 已停用：王刚")
    )
    assert ("↩️ 恢复 王刚", f"vs:r:{vid}") in buttons(done)
    await h.settle()

    # The database: suspended, off duty, the task open again with no runner, audited.
    async with h.rt.db.read() as s:
        vol = await s.get(Volunteer, vid)
        assert vol.status == VolunteerStatus.SUSPENDED and vol.on_duty_since is None
        assert vol.suspended_by == STAFF
        o = await s.get(Order, oid)
        assert (o.status, o.volunteer_id) == ("open", None)
        [entry] = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "volunteer.suspended")
        )
    assert (entry.actor_telegram_id, entry.target) == (STAFF, f"volunteer:{vid}")
    assert entry.details["orders"] == [oid]

    # The group: the old post says it waits again, and a new post has the 🙋 button.
    waiting = Z("🔁 {title} · {place} · waiting for a runner again (posted anew below)")
    await h.wait_edit(GROUP_1, post["message_id"], lambda m: waiting in text_of(m))
    repost = await h.emu.wait_for(
        GROUP_1, lambda m: m["message_id"] > post["message_id"] and _has(f"o:claim:{oid}")(m)
    )
    # The resident is told kindly, without why.
    told = await resident.expect("将由另一位志愿者为您跑这一单")
    assert "停用" not in text_of(told) and "暂停" not in text_of(told)
    # 王刚 is told; his card lost the address, the phone and the buttons.
    await runner.expect("社区工作人员暂停了您在第一网格的志愿者服务")
    card = await h.wait_edit(RUNNER, card["message_id"], lambda m: not buttons(m))
    assert not _private_data(text_of(card))

    # Every button he still has is refused with the reason, and reveals nothing (the copy
    # loses its buttons at the first press: forced after that, as an old client might).
    for data in (f"o:go:{oid}", f"o:rel:{oid}", f"o:nf:{oid}", f"m:to:{oid}", f"o:done:{oid}"):
        got = await runner.press_data(copy, data, force=True)
        assert got is not None and got["text"] == Z(SUSPENDED)[:200], data
    got = await runner.press_data(repost, f"o:claim:{oid}")
    assert got is not None and Z(SUSPENDED)[:20] in got["text"]
    runner.say("/mytasks")
    await runner.expect(Z(SUSPENDED))
    runner.say("/duty")
    await runner.expect(Z(SUSPENDED))
    await h.settle()
    assert not any(
        _private_data(text_of(m)) for m in runner.chat() if m["message_id"] > seen_by_runner
    )
    async with h.rt.db.read() as s:
        o = await s.get(Order, oid)
        assert (o.status, o.volunteer_id) == ("open", None)

    # A new task: 李娜 (on duty) is pinged, 王刚 is not.
    second = await _order(h)
    assert any(_has(f"o:claim:{second}")(m) for m in other.chat())
    assert not any(f"#{second} " in text_of(m) for m in runner.chat())

    # Reinstated (↩️, confirm): he is told, and can claim again.
    await boss.press_data(done, f"vs:r:{vid}")
    ask = await h.wait_edit(STAFF, screen["message_id"], _has(f"vs:ry:{vid}"))
    await boss.press_data(ask, f"vs:ry:{vid}")
    await h.wait_edit(
        STAFF, screen["message_id"], lambda m: text_of(m).startswith("↩️ 已恢复：王刚")
    )
    await runner.expect("欢迎回来！您可以继续在第一网格做志愿者了")
    got = await runner.press_data(repost, f"o:claim:{oid}")
    assert got is not None and f"#{oid}" in got["text"]
    card = await runner.expect(_has(f"o:buy:{oid}"))
    assert _private_data(text_of(card))
    async with h.rt.db.read() as s:
        assert (await s.get(Order, oid)).volunteer_id == vid
        actions = [
            (a.actor_telegram_id, a.action)
            for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert actions == [(STAFF, "volunteer.suspended"), (STAFF, "volunteer.reinstated")]


async def test_staff_cannot_suspend_a_volunteer_outside_their_grid(harness: Harness) -> None:
    """A grid leader of 第二网格 sees only their grid; a forged ✖️ for 王刚 is refused."""
    h = harness
    from bot.services import staff

    async with h.rt.db.session() as s:
        await staff.add(
            s,
            h.rt.clock,
            None,
            telegram_id=5002,
            name="钱组长",
            role="grid_leader",
            grid="第二网格",
        )
    leader = h.person(5002, "钱组长")
    leader.say("/volunteers")
    screen = await leader.expect(lambda m: "vs:s:" in str(buttons(m)))
    assert "陈静" in text_of(screen) and "王刚" not in text_of(screen)
    vid = await _volunteer_id(h, RUNNER)
    for data in (f"vs:s:{vid}", f"vs:sy:{vid}", "vs:g:1"):
        got = await leader.press_data(screen, data, force=True)
        assert got is not None and got.get("show_alert"), data
    async with h.rt.db.read() as s:
        assert (await s.get(Volunteer, vid)).status == VolunteerStatus.APPROVED
    # A volunteer is not staff: /volunteers is refused.
    h.person(RUNNER).say("/volunteers")
    await h.person(RUNNER).expect(
        Z("Only the grid leader or community staff can suspend or reinstate volunteers.")
    )
