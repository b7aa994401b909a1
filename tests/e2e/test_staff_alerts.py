"""✅ Handled on staff alerts (issue 15 point 8): a task nobody takes alerts the community staff
and the grid leader; the first to press ✅ is recorded with the time, the other's copy is
edited to say who handled it, a second press (on the alert or on 📋 To do) is told who did and
changes nothing, and someone who never got the alert cannot press it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import alerts
from bot.services.orders import texts, transitions
from handlers import alerts as alert_handlers
from handlers import keyboards
from models import StaffAlert, StaffAlertCopy
from tests.e2e.test_escalation import LEADER, STAFF_TOLD, TELL_LEADER, _order, _setup
from tests.factories import STAFF, VOLUNTEERS_1, VOLUNTEERS_2, Harness, Z, buttons, text_of


def _handle_data(msg: dict[str, object]) -> str:
    return next(d for _, d in buttons(msg) if d.startswith("sa:ok:"))  # type: ignore[arg-type]


async def test_handled_once_and_the_others_see_by_whom(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()  # the test counts what its own sweeps fire
    people = await _setup(h)
    boss, leader = people[STAFF], people[LEADER]
    oid = await _order(h)
    h.advance(minutes=61)
    await h.sweep()
    h.advance(minutes=180)  # 241 minutes: open to the whole community, staff alerted
    assert (await h.sweep())["escalation"] == 1

    mine = await boss.expect(Z(STAFF_TOLD))
    theirs = await leader.expect(Z(STAFF_TOLD))
    for copy in (mine, theirs):
        assert f"#{oid}" in text_of(copy)
        assert (Z(alerts.HANDLE), _handle_data(copy)) in buttons(copy)
        assert f"o:claim:{oid}" in [d for _, d in buttons(copy)]  # its own button stays
    data = _handle_data(mine)
    assert _handle_data(theirs) == data

    # 📋 To do lists what nobody has handled yet.
    leader.say(Z(keyboards.STAFF_TODO))
    todo = await leader.expect(Z(alert_handlers.TODO_TITLE))
    assert f"#{oid}" in text_of(todo)
    todo_data = next(d for _, d in buttons(todo) if d.startswith("sa:td:"))

    # Someone who never got the alert: refused, nothing recorded.
    stranger = people[VOLUNTEERS_2[0]]
    refused = await stranger.press_data(stranger.chat()[-1], data, force=True)
    assert refused is not None and refused.get("show_alert")
    async with h.rt.db.read() as s:
        assert (await s.scalar(select(StaffAlert))).handled_at is None  # type: ignore[union-attr]

    # 赵书记 handles it: recorded with the time; his copy says so and keeps the claim button.
    answered = await boss.press_data(mine, data)
    assert answered is not None and not answered.get("show_alert")
    done = Z(alerts.HANDLED_LINE)
    mine = await h.wait_edit(STAFF, mine["message_id"], lambda m: done in text_of(m))
    assert "赵书记" in text_of(mine) and f"o:claim:{oid}" in [d for _, d in buttons(mine)]
    async with h.rt.db.read() as s:
        row = await s.scalar(select(StaffAlert))
        copies = (await s.scalars(select(StaffAlertCopy))).all()
    assert row is not None and row.handled_by == STAFF and row.handled_at is not None
    assert timedelta(0) <= h.rt.clock.now() - row.handled_at < timedelta(minutes=1)
    assert row.kind == alerts.UNCLAIMED and row.order_id == oid
    assert {c.telegram_id for c in copies} == {STAFF, LEADER}

    # The grid leader's copy is edited through the outbox: handled, by whom.
    await h.settle()
    theirs = await h.wait_edit(
        LEADER, theirs["message_id"], lambda m: done in text_of(m) and "赵书记" in text_of(m)
    )
    assert any("赵书记" in t for t, _ in buttons(theirs))

    # A second press, on the alert or on the old to-do list: told who handled it, no change.
    again = await leader.press_data(theirs, data)
    assert again is not None and again.get("show_alert") and "赵书记" in again["text"]
    stale = await leader.press_data(todo, todo_data)
    assert stale is not None and "赵书记" in stale["text"]
    await h.wait_edit(
        LEADER, todo["message_id"], lambda m: Z(alert_handlers.NOTHING_TO_DO) in text_of(m)
    )
    async with h.rt.db.read() as s:
        row = await s.scalar(select(StaffAlert).execution_options(populate_existing=True))
    assert row is not None and row.handled_by == STAFF
    await h.settle()


async def test_handled_from_the_to_do_list_edits_every_copy(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()  # the test counts what its own sweeps fire
    people = await _setup(h)
    boss, leader = people[STAFF], people[LEADER]
    oid = await _order(h)
    h.advance(minutes=61)
    await h.sweep()
    h.advance(minutes=180)
    await h.sweep()
    mine = await boss.expect(Z(STAFF_TOLD))
    theirs = await leader.expect(Z(STAFF_TOLD))

    # The grid leader handles it from 📋 To do: the list empties, and both copies of the
    # alert, his own too, say he handled it.
    leader.say(Z(keyboards.STAFF_TODO))
    todo = await leader.expect(Z(alert_handlers.TODO_TITLE))
    todo_data = next(d for _, d in buttons(todo) if d.startswith("sa:td:"))
    await leader.press_data(todo, todo_data)
    await h.wait_edit(
        LEADER, todo["message_id"], lambda m: Z(alert_handlers.NOTHING_TO_DO) in text_of(m)
    )
    await h.settle()
    done = Z(alerts.HANDLED_LINE)
    for chat, copy in ((LEADER, theirs), (STAFF, mine)):
        edited = await h.wait_edit(
            chat, copy["message_id"], lambda m: done in text_of(m) and "网格长" in text_of(m)
        )
        assert f"o:claim:{oid}" in [d for _, d in buttons(edited)]
    async with h.rt.db.read() as s:
        row = await s.scalar(select(StaffAlert))
    assert row is not None and row.handled_by == LEADER


async def test_a_stalled_task_and_a_task_given_up_carry_handled(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()  # the test counts what its own sweeps fire
    people = await _setup(h)
    oid = await _order(h)
    runner = VOLUNTEERS_1[0]
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, oid, runner)
    h.rt.wake_outbox()
    await h.settle()
    h.advance(minutes=121)
    await h.sweep()  # the runner is reminded
    h.advance(minutes=120)
    assert (await h.sweep())["escalation"] == 1  # the grid leader is told
    stalled = await people[LEADER].expect(Z(TELL_LEADER))
    assert (Z(alerts.HANDLE), _handle_data(stalled)) in buttons(stalled)

    async with h.rt.db.session() as s:
        await transitions.give_up(h.rt, s, oid, runner, texts.GIVE_UP_REASONS["stock"])
    h.rt.wake_outbox()
    await h.settle()
    gave_up = await people[STAFF].expect(Z("{title} could not be done: {reason}"))
    assert _handle_data(gave_up).startswith("sa:ok:")
    async with h.rt.db.read() as s:
        kinds = sorted((await s.scalars(select(StaffAlert.kind))).all())
    assert kinds == sorted([alerts.STALLED, alerts.GAVE_UP])
