"""Volunteers join: sign-up, approval with buttons, the invite link; staff bind a group."""

from __future__ import annotations

from sqlalchemy import select

from models import Grid, Volunteer
from tests.factories import GROUP_1, STAFF, Harness, Z, buttons, text_of


async def _sign_up(h: Harness, tid: int, name: str, grid_id: int = 1) -> None:
    p = h.person(tid, name)
    p.say("/volunteer")
    await p.expect(lambda m: "/cancel" in text_of(m))
    p.say(name)
    await p.expect(
        Z("Your phone number? Only staff and the residents whose task you take can see it.")
    )
    p.contact("13600005555")
    grids = await p.expect(lambda m: any(d.startswith("j:g:") for _, d in buttons(m)))
    await p.press_data(grids, f"j:g:{grid_id}")
    when = await h.wait_edit(
        tid, grids["message_id"], lambda m: "j:a:day" in str(m.get("reply_markup"))
    )
    await p.press_data(when, "j:a:night")
    await h.wait_edit(tid, grids["message_id"], lambda m: name in text_of(m))


async def test_sign_up_approve_and_claim(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    boss.say("/help")
    await _sign_up(h, 4001, "小陈")
    async with h.rt.db.read() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == 4001))
    assert vol is not None and vol.status == "pending" and vol.availability == "night"
    # The staff member of the community is asked, with buttons.
    ask = await boss.expect("小陈")
    assert "13600005555" in text_of(ask)
    # Someone else pressing the button is refused.
    h.person(1001, "周阿姨").say("/help")
    qid = h.emu.press(1001, 1001, 1, f"v:ok:{vol.id}", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10)
    assert (
        ans is not None
        and Z("Only the grid leader or community staff can decide on volunteers.") in ans["text"]
    )
    await boss.press_data(ask, f"v:ok:{vol.id}")
    await h.wait_edit(STAFF, ask["message_id"], lambda m: "小陈" in text_of(m) and not buttons(m))
    welcome = await h.emu.wait_for(4001, "https://t.me/")  # the one-person invite link
    assert "第一网格" in text_of(welcome)
    # A second decision is refused: the first one stands.
    qid = h.emu.press(STAFF, STAFF, ask["message_id"], f"v:no:{vol.id}", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10)
    assert ans is not None and "小陈" in ans["text"]
    async with h.rt.db.read() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == 4001))
    assert vol is not None and vol.status == "approved" and vol.decided_by == STAFF
    # Approved, they can take a task of their grid.
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    post = await aunt.expect_in(GROUP_1, "#1 ")
    h.emu.add_member(GROUP_1, 4001)
    answer = await h.person(4001).press_data(post, "o:claim:1")
    assert answer is not None and "#1" in answer["text"]


async def test_reject_and_pending_cannot_claim(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    boss.say("/help")
    await _sign_up(h, 4002, "小李")
    ask = await boss.expect("小李")
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    post = await aunt.expect_in(GROUP_1, "#1 ")
    h.emu.add_member(GROUP_1, 4002)
    pending = await h.person(4002).press_data(post, "o:claim:1")
    assert (
        pending is not None
        and Z("Only approved volunteers of this grid can take tasks.") in pending["text"]
    )
    vid = next(d for _, d in buttons(ask) if d.startswith("v:no:"))
    await boss.press_data(ask, vid)
    await h.emu.wait_for(
        4002,
        Z(
            "Thank you for offering to help. The grid does not need more "
            "volunteers right now; the community staff may contact you."
        ),
    )
    p = h.person(4002)
    p.say("/volunteer")
    await p.expect(Z("rejected"))
    rejected = await p.press_data(post, "o:claim:1")
    assert (
        rejected is not None
        and Z("Only approved volunteers of this grid can take tasks.") in rejected["text"]
    )


async def test_binding_a_group_is_for_staff_only(harness: Harness) -> None:
    h = harness
    boss = h.person(STAFF)
    h.person(2001)
    gid = h.emu.create_group("第一网格 新群", members=[STAFF, 2001], with_bot=True)["id"]
    # A volunteer may not bind; in a private chat /bind only explains.
    h.emu.send_text(2001, "/bind", chat_id=gid)
    await h.emu.wait_for(gid, Z("Only community staff can bind a group to a grid."))
    boss.say("/bind")
    await boss.expect(Z("Send /bind inside the volunteers' group chat, not here."))
    h.emu.send_text(STAFF, "/bind", chat_id=gid)
    ask = await h.emu.wait_for(gid, Z("Make this group the task group of which grid?"))
    # A volunteer pressing the staff's buttons is refused.
    qid = h.emu.press(2001, gid, ask["message_id"], "g:bind:1")
    ans = await h.emu.wait_callback_answer(qid, 10)
    assert ans is not None and Z("Only community staff can bind a group to a grid.") in ans["text"]
    await boss.press_data(ask, "g:bind:1", chat_id=gid)
    await h.wait_edit(gid, ask["message_id"], lambda m: "第一网格" in text_of(m) and not buttons(m))
    async with h.rt.db.read() as s:
        grid = await s.get(Grid, 1)
    assert grid is not None and grid.group_chat_id == gid
    # New tasks now go to the new group.
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await h.emu.wait_for(gid, "#1 ")
    assert not any("#1 " in text_of(m) for m in h.emu.messages(GROUP_1))


async def test_a_grid_leader_decides_for_their_grid_only(harness: Harness) -> None:
    h = harness
    leader = await h.add_grid_leader(5001, "网格长", grid_id=2)
    leader.say("/help")
    await _sign_up(h, 4003, "小王", grid_id=1)
    await _sign_up(h, 4004, "小赵", grid_id=2)
    ask = await leader.expect("小赵")
    assert not any("小王" in text_of(m) for m in leader.chat())
    async with h.rt.db.read() as s:
        wang = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == 4003))
    assert wang is not None
    qid = h.emu.press(5001, 5001, ask["message_id"], f"v:ok:{wang.id}", force=True)
    ans = await h.emu.wait_callback_answer(qid, 10)
    assert (
        ans is not None
        and Z("Only the grid leader or community staff can decide on volunteers.") in ans["text"]
    )
    vid = next(d for _, d in buttons(ask) if d.startswith("v:ok:"))
    await leader.press_data(ask, vid)
    welcome = await h.emu.wait_for(
        4004,
        Z(
            "Welcome to the volunteers of {grid}! New tasks appear in the "
            "grid's group; press 🙋 to take one."
        ),
    )
    # The welcome says what to do next and brings the volunteer's menu; the button to go on
    # duty follows it.
    assert "🟢 上班/下班" in str(welcome.get("reply_markup"))
    duty = await h.emu.wait_for(4004, lambda m: "v:duty:on" in str(m.get("reply_markup")))
    await h.person(4004).press_data(duty, "v:duty:on")
    await h.wait_edit(4004, duty["message_id"], lambda m: "v:duty:off" in str(m))
    async with h.rt.db.read() as s:
        zhao = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == 4004))
    assert zhao is not None and zhao.on_duty_since is not None
